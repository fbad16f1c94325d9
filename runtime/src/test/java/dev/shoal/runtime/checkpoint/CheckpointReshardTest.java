// Resharding: a checkpoint saved at each of (tp, pp, dp) ∈ {(2,2,1), (1,2,2), (2,1,2) ZeRO-1,
// (1,1,4) ZeRO-1} after 2 steps loads at each of the others and at (1,1,1): parameters and AdamW
// moments equal the saved ones bit for bit (they are copies), the AdamW step count is restored, and
// the next 2 steps' losses match continuing on the saving layout within 1e-5 relative (fp32 summation
// order differs between layouts). Loading on the saving layout continues bit-identically (losses and
// final weights). ZeRO-1 ↔ plain DP on the same sizes is exact both ways.
package dev.shoal.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.checkpoint.MeshRun.Layout;
import dev.shoal.runtime.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointReshardTest {
    static final double LOSS_TOL = 1e-5; // relative, between layouts
    static final long SAVE_AT = 2, STEPS_AFTER = 2;
    static final List<Layout> SAVE_LAYOUTS = List.of(
            Layout.of(2, 2, 1, false), Layout.of(1, 2, 2, false), Layout.of(2, 1, 2, true), Layout.of(1, 1, 4, true));

    static Map<String, Tensor> init;

    @TempDir
    Path tmp;

    @BeforeAll
    static void weights() {
        init = MeshRun.initialWeights();
    }

    /** What the saving layout left: the checkpoint, the state in it, and how it went on. */
    record Saved(Path stepDir, Map<String, float[]> state, double[] lossesAfter, Map<String, float[]> finalState) {}

    static Saved saveAndContinue(Layout l, Path root, boolean async) throws Exception {
        try (MeshRun run = new MeshRun(l, init)) {
            run.train(0, SAVE_AT);
            List<Path> dirs = run.onAll((r, t, c) -> {
                try (Checkpointer ck = new Checkpointer(
                        root, c, Checkpointer.Options.defaults().withBlockBytes(4096))) {
                    return ck.saveSync(t, MeshRun.state(SAVE_AT));
                }
            });
            Map<String, float[]> state = run.global();
            double[] after = run.train(SAVE_AT, SAVE_AT + STEPS_AFTER);
            return new Saved(dirs.get(0), state, after, run.global());
        }
    }

    /** Loads saved at layout l, checks the state exactly, trains on; returns the losses and final state. */
    static Object[] loadAndContinue(Saved s, Layout l) throws Exception {
        try (MeshRun run = new MeshRun(l, null)) {
            List<CheckpointLoader.Restored> res = run.onAll((r, t, c) -> CheckpointLoader.load(s.stepDir(), t, c));
            for (CheckpointLoader.Restored x : res) {
                assertEquals(SAVE_AT, x.state().step());
                assertEquals(SAVE_AT, x.adamwSteps());
                assertEquals(MeshRun.SEED, x.state().seed());
                assertEquals("ckpt-test", x.state().extra().get("job"));
                assertEquals(MeshRun.LR.lr(SAVE_AT), x.state().nextLr(), 0.0);
            }
            // Each rank read exactly the bytes of its own parameters and moments.
            for (int r = 0; r < run.dims.world(); r++) {
                var t = run.trainers[r];
                long want = t.model().flatParams().bytes();
                for (var st : t.optimizer().adamw().state().values())
                    want += 2 * st.expAvg().bytes();
                assertEquals(want, res.get(r).bytesCopied(), "rank " + r + " bytes read");
            }
            assertStateEquals(s.state(), run.global(), "loaded at " + l);
            double[] losses = run.train(SAVE_AT, SAVE_AT + STEPS_AFTER);
            return new Object[] {losses, run.global()};
        }
    }

    static void assertStateEquals(Map<String, float[]> want, Map<String, float[]> got, String what) {
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) assertArrayEquals(want.get(k), got.get(k), what + ": " + k);
    }

    static void assertLossesClose(double[] want, double[] got, String what) {
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            double rel = Math.abs(got[i] - want[i]) / Math.abs(want[i]);
            worst = Math.max(worst, rel);
            assertTrue(
                    rel <= LOSS_TOL,
                    what + " step " + (SAVE_AT + i) + ": loss " + got[i] + " vs " + want[i] + " (relative " + rel
                            + ")");
        }
        System.out.printf("resume %s: next %d losses within %.1e relative%n", what, want.length, worst);
    }

    @Test
    void everyLayoutLoadsEveryOther() throws Exception {
        List<Layout> targets = new ArrayList<>(SAVE_LAYOUTS);
        targets.add(Layout.of(1, 1, 1, false));
        int i = 0;
        for (Layout from : SAVE_LAYOUTS) {
            Saved s = saveAndContinue(from, tmp.resolve("from-" + i++), false);
            for (Layout to : targets) {
                Object[] res = loadAndContinue(s, to);
                double[] losses = (double[]) res[0];
                if (to.equals(from)) {
                    assertArrayEquals(s.lossesAfter(), losses, 0.0, "same-layout resume " + from);
                    @SuppressWarnings("unchecked")
                    Map<String, float[]> fin = (Map<String, float[]>) res[1];
                    assertStateEquals(s.finalState(), fin, "same-layout resume " + from + " after 2 steps");
                } else {
                    assertLossesClose(s.lossesAfter(), losses, from + " → " + to);
                }
            }
        }
    }

    @Test
    void zero1AndPlainDpLoadEachOther() throws Exception {
        Layout zero = Layout.of(2, 1, 2, true), plain = Layout.of(2, 1, 2, false);
        Saved fromZero = saveAndContinue(zero, tmp.resolve("zero"), false);
        loadAndContinue(fromZero, plain);
        Saved fromPlain = saveAndContinue(plain, tmp.resolve("plain"), false);
        Object[] back = loadAndContinue(fromPlain, zero);
        assertLossesClose(fromPlain.lossesAfter(), (double[]) back[0], "plain → zero1");
    }
}
