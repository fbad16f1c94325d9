// The small cluster job that the cluster tests and RecoveryBench train: a synthetic bilingual corpus
// (en + zh, byte-level tokenizer) and a tiny-Llama CPT job on it at tp 2 × dp 2 with ZeRO-1, so that on
// a local 2 + 1 + 1-rank cluster the TP group of ranks 2–3 and both DP groups cross JVMs.
// Guarantees: the same arguments give the same data and spec (the tests compare runs against each other
// and against the single-process Trainer on this spec).
package dev.shoal.actors.bench;

import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import java.nio.file.Path;
import java.util.List;

public final class TinyClusterJob {
    private TinyClusterJob() {}

    /**
     * Prepares sources en and zh ({@code docs} generated documents each, 10% held out) into dir/data;
     * returns that folder.
     */
    public static Path prepare(Path dir, int docs) throws Exception {
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, docs);
        SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, docs);
        Path data = dir.resolve("data");
        Preparer.run(new Preparer.Config(
                tok,
                data,
                List.of(
                        new SourceSpec("en", "en", DocFormat.JSONL, List.of(dir.resolve("en.jsonl")), "text", 0.1),
                        new SourceSpec("zh", "zh", DocFormat.JSONL, List.of(dir.resolve("zh.jsonl")), "text", 0.1)),
                1,
                1 << 20,
                true,
                null));
        return data;
    }

    /**
     * The job on {@code data}: tiny model, en 0.7 + zh 0.3 (additional), seq 32, global batch 4, micro 1,
     * seed 3, linear LR 2e-3 → 2e-4 after 2 warmup steps, tp 2 × dp 2 ZeRO-1, checkpoints in {@code ckpt}
     * every {@code checkpointInterval} steps, validation every {@code evalInterval} (0: start and end).
     */
    public static JobSpec spec(
            String name, Path data, Path ckpt, long steps, long evalInterval, long checkpointInterval) {
        return JobSpec.newBuilder()
                .setName(name)
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath(data.toString())
                        .setWeight(0.7))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath(data.toString())
                        .setWeight(0.3)
                        .setAdditional(true))
                .setSeqLen(32)
                .setGlobalBatch(4)
                .setMicroBatch(1)
                .setSteps(steps)
                .setSeed(3)
                .setLr(LrSchedule.newBuilder()
                        .setKind(LrSchedule.Kind.LINEAR)
                        .setPeakLr(2e-3)
                        .setMinLr(2e-4)
                        .setWarmupSteps(2))
                .setParallelism(
                        Parallelism.newBuilder().setTp(2).setPp(1).setDp(2).setZero1(true))
                .setEvalInterval(evalInterval)
                .setCheckpointInterval(checkpointInterval)
                .setCheckpointDir(ckpt.toString())
                .build();
    }
}
