// The HOCON job file → JobSpec conversion behind `shoal submit`: every key lands in its field, paths
// become absolute, weights are normalised, parallelism defaults to 1 × 1 × 1, and every mistake names
// the file and the key. The result passes the server's own spec check.
package dev.shoal.actors.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.coordinator.JobSpecCheck;
import dev.shoal.proto.v1.AlmrPoint;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.train.JobConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobSpecsTest {

    @TempDir
    Path dir;

    private Path write(String name, String hocon) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, hocon);
        return f;
    }

    static final String FULL =
            """
            train {
              name = cpt-zh
              model = llama3-8b
              data {
                dir = prepared
                sources = [
                  { name = en, language = en, weight = 3 }
                  { name = zh, language = zh, weight = 1 }
                ]
                additional_language = zh
                almr_schedule = [ { step = 0, almr = 0.1 }, { step = 500, almr = 0.25 } ]
              }
              seq_len = 2048
              global_batch = 64
              micro_batch = 2
              steps = 1000
              seed = 11
              threads = 4
              lr { kind = wsd, peak_lr = 3e-4, min_lr = 3e-5, warmup_steps = 50, decay_steps = 200 }
              optimizer { beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, grad_clip = 1.0 }
              eval_interval = 100
              checkpoint_interval = 250
              checkpoint_dir = ckpt
              checkpoint_keep_last = 3
              checkpoint_keep_every = 500
              parallelism { tp = 2, pp = 2, dp = 4, zero1 = true }
            }
            """;

    @Test
    void everyKeyLandsInItsField() throws IOException {
        JobSpec s = JobSpecs.read(write("cpt.conf", FULL));
        assertEquals("cpt-zh", s.getName());
        assertEquals("llama3-8b", s.getModel());
        assertEquals(2048, s.getSeqLen());
        assertEquals(64, s.getGlobalBatch());
        assertEquals(2, s.getMicroBatch());
        assertEquals(1000, s.getSteps());
        assertEquals(11, s.getSeed());
        assertEquals(100, s.getEvalInterval());
        assertEquals(250, s.getCheckpointInterval());
        assertEquals(dir.resolve("ckpt").toString(), s.getCheckpointDir());
        assertEquals(3, s.getCheckpointKeepLast());
        assertEquals(500, s.getCheckpointKeepEvery());

        assertEquals(2, s.getSourcesCount());
        assertEquals("en", s.getSources(0).getName());
        assertEquals("en", s.getSources(0).getLanguage());
        assertEquals(0.75, s.getSources(0).getWeight(), 1e-12);
        assertFalse(s.getSources(0).getAdditional());
        assertEquals(0.25, s.getSources(1).getWeight(), 1e-12);
        assertTrue(s.getSources(1).getAdditional());
        assertEquals(dir.resolve("prepared").toString(), s.getSources(1).getPath());
        assertEquals(
                List.of(
                        AlmrPoint.newBuilder().setStep(0).setAlmr(0.1).build(),
                        AlmrPoint.newBuilder().setStep(500).setAlmr(0.25).build()),
                s.getAlmrScheduleList());

        assertEquals(LrSchedule.Kind.WSD, s.getLr().getKind());
        assertEquals(3e-4, s.getLr().getPeakLr());
        assertEquals(3e-5, s.getLr().getMinLr());
        assertEquals(50, s.getLr().getWarmupSteps());
        assertEquals(200, s.getLr().getDecaySteps());
        assertEquals(0.95, s.getOptimizer().getBeta2());
        assertEquals(1.0, s.getOptimizer().getGradClip());
        assertEquals(
                Parallelism.newBuilder()
                        .setTp(2)
                        .setPp(2)
                        .setDp(4)
                        .setZero1(true)
                        .build(),
                s.getParallelism());
        assertEquals(List.of(), JobSpecCheck.specProblems(s));
        assertEquals(List.of(), JobSpecCheck.problems(s, 16));
    }

    @Test
    void defaultsFillTheRest() throws IOException {
        JobSpec s = JobSpecs.read(
                write(
                        "small.conf",
                        """
                train {
                  model = tiny
                  data { dir = /data/p, sources = [ { name = en, language = en, weight = 1 } ] }
                  seq_len = 64
                  global_batch = 8
                  steps = 10
                  lr { peak_lr = 1e-3 }
                  checkpoint_dir = /ckpt
                }
                """));
        assertEquals("small", s.getName(), "the file's base name");
        assertEquals(8, s.getMicroBatch());
        assertEquals(Parallelism.newBuilder().setTp(1).setPp(1).setDp(1).build(), s.getParallelism());
        assertEquals(LrSchedule.Kind.COSINE, s.getLr().getKind());
        assertEquals(1e-4, s.getLr().getMinLr(), 1e-18);
        assertEquals(0.9, s.getOptimizer().getBeta1());
        assertEquals(0, s.getAlmrScheduleCount());
        assertFalse(s.getSources(0).getAdditional());
        assertEquals(List.of(), JobSpecCheck.specProblems(s));
    }

    @Test
    void maxDpBoundsAutoGrowAndDefaultsToNone() throws IOException {
        assertEquals(0, JobSpecs.read(write("a.conf", FULL)).getParallelism().getMaxDp());
        JobSpec s = JobSpecs.read(write("b.conf", FULL.replace("zero1 = true", "zero1 = true, max-dp = 8")));
        assertEquals(8, s.getParallelism().getMaxDp());
        Path f = write("c.conf", FULL.replace("zero1 = true", "zero1 = true, max-dp = 0"));
        assertEquals(f + ": train.parallelism.max-dp = 0: must be a whole number >= 1", message(f));
    }

    @Test
    void peerCopyEveryIsAClusterKeyDefaultingToOff() throws IOException {
        assertEquals(0, JobSpecs.read(write("p0.conf", FULL)).getPeerCopyEvery());
        JobSpec s = JobSpecs.read(write(
                "p1.conf", FULL.replace("checkpoint_dir = ckpt", "checkpoint_dir = ckpt\n  peer-copy-every = 2")));
        assertEquals(2, s.getPeerCopyEvery());
        assertTrue(
                JobSpecCheck.specProblems(s).isEmpty(),
                JobSpecCheck.specProblems(s).toString());
        Path f = write(
                "p2.conf", FULL.replace("checkpoint_dir = ckpt", "checkpoint_dir = ckpt\n  peer-copy-every = -1"));
        assertEquals(
                f + ": train.peer-copy-every = -1: must be a whole number >= 0 (steps between in-memory peer copies;"
                        + " 0: off)",
                message(f));
        List<String> p =
                JobSpecCheck.specProblems(s.toBuilder().setPeerCopyEvery(-3).build());
        assertTrue(p.stream().anyMatch(x -> x.startsWith("peer_copy_every -3 < 0")), p.toString());
    }

    @Test
    void cpuEngineIsAClusterKeyDefaultingToLlama() throws IOException {
        assertEquals("llama", JobSpecs.read(write("e0.conf", FULL)).getCpuEngine());
        JobSpec s = JobSpecs.read(write(
                "e1.conf", FULL.replace("checkpoint_dir = ckpt", "checkpoint_dir = ckpt\n  cpu-engine = backend")));
        assertEquals("backend", s.getCpuEngine());
        Path f = write("e2.conf", FULL.replace("checkpoint_dir = ckpt", "checkpoint_dir = ckpt\n  cpu-engine = gpu"));
        assertEquals(
                f + ": train.cpu-engine = \"gpu\": must be llama (the CPU engine's LlamaModel, any layout) or backend"
                        + " (BackendLlama on the CPU tensor backend, tp 1 × pp 1)",
                message(f));
    }

    @Test
    void mistakesNameTheFileAndTheKey() throws IOException {
        Path f = write("x.conf", FULL.replace("dp = 4", "dp = 2.5"));
        assertEquals(f + ": train.parallelism.dp = 2.5: must be a whole number >= 1", message(f));
        Path keep = write("keep.conf", FULL.replace("checkpoint_keep_last = 3", "checkpoint_keep_last = -1"));
        assertEquals(
                keep + ": train.checkpoint_keep_last = -1: must be >= 0 (0: keep every checkpoint)", message(keep));
        f = write("x.conf", FULL.replace("zero1 = true", "zero1 = maybe"));
        assertEquals(f + ": train.parallelism.zero1 = \"maybe\": must be true or false", message(f));
        f = write("x.conf", FULL.replace("parallelism { tp", "parallelism { tpp = 1, tp"));
        assertEquals(
                f + ": unknown key train.parallelism.tpp (allowed under train.parallelism.: tp, pp, dp, zero1,"
                        + " recompute, max-dp)",
                message(f));
        f = write("x.conf", FULL.replace("kind = wsd", "kind = cosin"));
        assertEquals(f + ": train.lr.kind = \"cosin\": allowed cosine, linear, wsd", message(f));
        f = write("x.conf", FULL.replace("weight = 1 }", "weight = -0.2 }"));
        assertEquals(f + ": train.data.sources[1].weight = -0.2: must be finite and > 0", message(f));
        f = write("x.conf", "train { model = tiny ");
        assertTrue(message(f).startsWith(f.toString()), message(f));
        assertTrue(message(f).contains("x.conf: 1:"), "Typesafe's parse error names file and line: " + message(f));
        assertEquals(dir.resolve("none.conf") + ": no such file", message(dir.resolve("none.conf")));
    }

    private static String message(Path f) {
        return assertThrows(JobConfigException.class, () -> JobSpecs.read(f)).getMessage();
    }
}
