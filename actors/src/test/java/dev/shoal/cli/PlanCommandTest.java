// `shoal plan` end to end in-process: the report for 70B on 4 nodes of 8×H100, the refusal reasons under
// --explain, exit 1 when nothing fits, and exit 2 with one line naming a bad model, gpu or recompute value.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PlanCommandTest {

    @Test
    void seventyBOnFourNodesListsLayoutsThatFit() {
        ShoalCliTest.Run r = ShoalCliTest.run("plan", "--model", "llama3-70b", "--nodes", "4", "--gpu", "h100");
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("llama3-70b (70.55B params"), r.out());
        assertTrue(r.out().contains("on 4 nodes × 8 h100 = 32 GPUs"), r.out());
        assertTrue(r.out().contains("best: tp "), r.out());
        assertTrue(r.out().contains("--explain lists each"), r.out());
    }

    @Test
    void explainNamesTheReasons() {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "plan", "--model", "llama3-70b", "--nodes", "4", "--global-batch", "6", "--zero1", "--explain");
        assertEquals(0, r.code(), r.err() + r.out());
        String out = r.out();
        assertTrue(out.contains("tp 16 > 8 GPUs per node"), out);
        assertTrue(out.contains("tp 16 > 8 kv heads"), out);
        assertTrue(out.contains("dp 4 cannot fit global_batch 6"), out);
        assertTrue(out.matches("(?s).*needs \\d+\\.\\d GiB > 80 GiB.*"), out);
    }

    @Test
    void nothingFitsIsExitOne() {
        // 70B on one node of 8×H100 without ZeRO: 18 bytes/param / 8 GPUs ≈ 148 GiB per GPU before activations
        ShoalCliTest.Run r = ShoalCliTest.run("plan", "--model", "llama3-70b", "--nodes", "1");
        assertEquals(1, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("no layout fits in 80 GiB per GPU"), r.out());
    }

    @Test
    void biggerMemoryOverrideMakesItFit() {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "plan", "--model", "llama3-8b", "--nodes", "1", "--gpu", "a100", "--gpu-mem-gib", "40", "--top", "3");
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("GPU: 40 GiB, 312.0 TFLOP/s"), r.out());
    }

    void assertUsage(String fragment, String... args) {
        ShoalCliTest.Run r = ShoalCliTest.run(args);
        assertEquals(2, r.code(), r.err() + r.out());
        String err = r.err().strip();
        assertTrue(err.contains(fragment), err);
        assertEquals(1, err.lines().count(), "one line, no stack trace: " + err);
    }

    @Test
    void badValuesAreUsageErrors() {
        assertUsage("unknown model 'llama9'", "plan", "--model", "llama9", "--nodes", "4");
        assertUsage("unknown gpu 'v100'", "plan", "--model", "llama3-8b", "--nodes", "4", "--gpu", "v100");
        assertUsage("unknown recompute 'some'", "plan", "--model", "llama3-8b", "--nodes", "1", "--recompute", "some");
        assertUsage("nodes 0", "plan", "--model", "llama3-8b", "--nodes", "0");
        assertUsage(
                "sequence length 16384 exceeds", "plan", "--model", "llama3-8b", "--nodes", "1", "--seq-len", "16384");
        assertUsage("efficiency 1.5", "plan", "--model", "llama3-8b", "--nodes", "1", "--efficiency", "1.5");
    }
}
