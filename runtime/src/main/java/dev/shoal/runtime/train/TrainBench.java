// Benchmark of the single-process trainer on a generated prepared dataset (byte-level ids): per preset
// and thread count, training tokens/s of whole steps (sampler + grad accumulation + clip + AdamW), the
// time of one evaluation of every source, and the time and size of one checkpoint save. Prints a table;
// asserts nothing. Usage: TrainBench [--threads 1,2] [--configs tiny,small] [--steps N].
package dev.shoal.runtime.train;

import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

public final class TrainBench {
    private TrainBench() {}

    public static void main(String[] args) throws IOException {
        List<Integer> threads = List.of(1, 2);
        List<String> configs = List.of("tiny", "small");
        int steps = 10;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" ->
                    threads = Stream.of(args[++i].split(","))
                            .map(Integer::parseInt)
                            .toList();
                case "--configs" -> configs = List.of(args[++i].split(","));
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Path dir = Files.createTempDirectory("shoal-trainbench");
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, 3000);
        SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, 3000);
        Preparer.run(
                new Preparer.Config(
                        tok,
                        dir.resolve("data"),
                        List.of(
                                new SourceSpec(
                                        "en", "en", DocFormat.JSONL, List.of(dir.resolve("en.jsonl")), "text", 0.05),
                                new SourceSpec(
                                        "zh", "zh", DocFormat.JSONL, List.of(dir.resolve("zh.jsonl")), "text", 0.05)),
                        2,
                        1 << 20,
                        true,
                        null),
                Llama3Tokenizer.load(tok));
        System.out.println(
                "| model | threads | B × T (micro) | step tokens/s | eval (2 sources) ms | checkpoint ms | checkpoint MB |");
        System.out.println("|---|---|---|---|---|---|---|");
        int run = 0;
        for (String model : configs) {
            int t = model.equals("tiny") ? 128 : 256;
            int b = 16, micro = model.equals("tiny") ? 8 : 4;
            for (int th : threads) {
                Path conf = dir.resolve("bench" + run + ".conf");
                Files.writeString(
                        conf,
                        """
                        train {
                          model = %s
                          data { dir = data, additional_language = zh,
                                 sources = [ { name = en, language = en, weight = 0.7 }, { name = zh, language = zh, weight = 0.3 } ] }
                          seq_len = %d, global_batch = %d, micro_batch = %d, steps = %d, threads = %d
                          lr { peak_lr = 1e-3 }
                          eval_batches = 2
                          checkpoint_dir = ckpt%d
                        }
                        """
                                .formatted(model, t, b, micro, steps + 1, th, run));
                JobConfig job = JobConfigReader.load(conf);
                try (Trainer tr = new Trainer(job, null, null)) {
                    tr.step(0, 1e-3); // warm-up
                    long t0 = System.nanoTime();
                    for (int s = 1; s <= steps; s++) tr.step(s, 1e-3);
                    double stepSecs = (System.nanoTime() - t0) / 1e9;
                    long e0 = System.nanoTime();
                    tr.evaluate();
                    double evalMs = (System.nanoTime() - e0) / 1e6;
                    long c0 = System.nanoTime();
                    Path saved = Checkpoints.save(
                            job.checkpointDir(),
                            tr.model(),
                            tr.optimizer(),
                            new Checkpoints.State(1, 1, "-", 0, java.util.Map.of(), java.util.Map.of(), "-"));
                    double ckptMs = (System.nanoTime() - c0) / 1e6;
                    long bytes;
                    try (Stream<Path> f = Files.list(saved)) {
                        bytes = f.mapToLong(p -> p.toFile().length()).sum();
                    }
                    System.out.printf(
                            Locale.ROOT,
                            "| %s | %d | %d × %d (%d) | %.0f | %.0f | %.0f | %.1f |%n",
                            model,
                            th,
                            b,
                            t,
                            micro,
                            steps * (double) b * t / stepSecs,
                            evalMs,
                            ckptMs,
                            bytes / 1e6);
                }
                run++;
            }
        }
        Checkpoints.deleteTree(dir);
    }
}
