// Benchmark of the data pipeline (run: java -cp ... dev.shoal.runtime.data.DataBench [threads] [workDir]).
// Prints a table: prepare throughput against raw jtokkit encoding of the same texts with the same thread
// count, and the sampler's cost per step (global batch, micro-batch, assignment alone, far-away step).
// The corpus is Debian's fortunes when installed, else the generated synthetic corpus (logged).
// The tokenizer is the cl100k_base rank file jtokkit ships (Meta's Llama-3 file cannot be redistributed;
// same format and same split regex, 100k instead of 128k ranks).
package dev.shoal.runtime.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.GptBytePairEncodingParams;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Pattern;

/** A main that prints a table; numbers go to docs/perf.md by hand. */
public final class DataBench {

    private DataBench() {}

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        Path work = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("shoal-databench");
        int reps = 5;
        Files.createDirectories(work);
        Path model = TiktokenRanks.copyJtokkitCl100k(work.resolve("tokenizer.model"));
        Llama3Tokenizer tok = Llama3Tokenizer.load(model);
        Encoding sameParams = jtokkitWithLlamaRegex(TiktokenRanks.load(model));
        Encoding builtin = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);

        // 1) the demo corpus (fortunes if installed: many small files), 1 MiB chunks
        List<SourceSpec> demo = DemoCorpus.sources(FortuneFiles.find(), work.resolve("gen"), 0.01, System.out);
        pipelineBench(
                "demo corpus, 1 MiB chunks",
                demo,
                1 << 20,
                threads,
                reps,
                model,
                tok,
                sameParams,
                builtin,
                work.resolve("p1"));
        // 2) two large JSONL files (the generated corpus), 4 MiB chunks: the shape of real CPT data
        List<SourceSpec> big =
                DemoCorpus.sources(FortuneFiles.find(work.resolve("none")), work.resolve("gen2"), 0.01, System.out);
        pipelineBench(
                "generated JSONL, 4 MiB chunks",
                big,
                4 << 20,
                threads,
                reps,
                model,
                tok,
                sameParams,
                builtin,
                work.resolve("p2"));

        samplerBench(work.resolve("p1").resolve("prepared-0"), tok);
    }

    private static void pipelineBench(
            String title,
            List<SourceSpec> sources,
            int chunkBytes,
            int threads,
            int reps,
            Path model,
            Llama3Tokenizer tok,
            Encoding sameParams,
            Encoding builtin,
            Path work)
            throws Exception {
        // The exact texts prepare will tokenize (same record splitting and cleaning).
        List<String> texts = new ArrayList<>();
        for (SourceSpec s : sources) {
            RecordReader rr = new RecordReader(s.format(), s.textField(), true);
            for (Path p : s.inputs()) {
                byte[] b = Files.readAllBytes(p);
                List<int[]> recs = new ArrayList<>();
                s.format().records(b, b.length, recs);
                for (int[] r : recs) {
                    RecordReader.Outcome o = rr.read(b, r[0], r[1]);
                    if (o.text() != null) texts.add(o.text());
                }
            }
        }
        long textBytes = texts.stream()
                .mapToLong(t -> t.getBytes(StandardCharsets.UTF_8).length)
                .sum();
        // largest first, so the threads end together
        texts.sort(Comparator.comparingInt(String::length).reversed());

        // Interleaved repetitions; best wall time and best process CPU time of each (the dev machine is shared,
        // so CPU seconds are the steadier measure of the work done).
        double[][] wall = new double[4][];
        double[][] cpu = new double[4][];
        for (int k = 0; k < 4; k++) {
            wall[k] = new double[] {Double.MAX_VALUE};
            cpu[k] = new double[] {Double.MAX_VALUE};
        }
        long prepText = 0;
        long inputBytes = 0;
        for (int i = 0; i < reps; i++) {
            time(
                    wall[0],
                    cpu[0],
                    () -> encodeAll(
                            texts, threads, t -> sameParams.encodeOrdinary(t).size()));
            time(
                    wall[1],
                    cpu[1],
                    () -> encodeAll(
                            texts, threads, t -> builtin.encodeOrdinary(t).size()));
            time(wall[2], cpu[2], () -> encodeAll(texts, threads, t -> tok.encode(t).length));
            Path out = work.resolve("prepared-" + i);
            Preparer.Report[] last = new Preparer.Report[1];
            time(
                    wall[3],
                    cpu[3],
                    () -> last[0] = Preparer.run(
                            new Preparer.Config(model, out, sources, threads, chunkBytes, true, null), tok));
            prepText = last[0].manifest().sources().stream()
                    .mapToLong(Manifest.SourceEntry::textBytes)
                    .sum();
            inputBytes = last[0].inputBytes();
        }

        System.out.printf(
                Locale.ROOT,
                "%n%s: %d threads, %d documents, %.2f MB of text (UTF-8), best of %d, load average %.1f%n",
                title,
                threads,
                texts.size(),
                textBytes / 1e6,
                reps,
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
        System.out.println("| measurement | wall s | MB/s (wall) | CPU s | MB/s per CPU-s | vs raw (CPU) |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        String[] names = {
            "raw jtokkit encodeOrdinary, cl100k ranks + Llama-3 regex (in-memory texts)",
            "jtokkit built-in cl100k_base (hand-written splitter, reference)",
            "Llama3Tokenizer.encode (in-memory texts)",
            "shoal prepare end to end (read, parse, clean, hash, encode, write, checksum)"
        };
        for (int k = 0; k < 4; k++) {
            long bytes = k == 3 ? prepText : textBytes;
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.3f | %.2f | %.3f | %.2f | %.2f |%n",
                    names[k],
                    wall[k][0],
                    bytes / 1e6 / wall[k][0],
                    cpu[k][0],
                    bytes / 1e6 / cpu[k][0],
                    (bytes / cpu[k][0]) / (textBytes / cpu[0][0]));
        }
        System.out.printf(Locale.ROOT, "prepare input bytes incl. JSON/escapes: %.2f MB%n", inputBytes / 1e6);
    }

    /** Runs {@code job}, keeping the minimum wall and process-CPU seconds in the one-element arrays. */
    private static void time(double[] wall, double[] cpu, Job job) throws Exception {
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long c0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        job.run();
        wall[0] = Math.min(wall[0], (System.nanoTime() - t0) / 1e9);
        cpu[0] = Math.min(cpu[0], (os.getProcessCpuTime() - c0) / 1e9);
    }

    interface Job {
        void run() throws Exception;
    }

    interface Enc {
        int apply(String t);
    }

    /** Encodes every text once, striped over {@code threads} threads; returns total tokens. */
    private static long encodeAll(List<String> texts, int threads, Enc enc) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Long>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int me = t;
                fs.add(pool.submit(() -> {
                    long n = 0;
                    for (int i = me; i < texts.size(); i += threads) n += enc.apply(texts.get(i));
                    return n;
                }));
            }
            long n = 0;
            for (Future<Long> f : fs) n += f.get();
            return n;
        } finally {
            pool.shutdown();
        }
    }

    private static Encoding jtokkitWithLlamaRegex(TiktokenRanks ranks) {
        Map<byte[], Integer> enc = new IdentityHashMap<>();
        for (int r = 0; r < ranks.size(); r++) enc.put(ranks.bytes(r), r);
        Pattern p = Pattern.compile(Llama3Tokenizer.SPLIT_REGEX, Pattern.UNICODE_CHARACTER_CLASS);
        GptBytePairEncodingParams params = new GptBytePairEncodingParams("bench-llama3-regex", p, enc, new HashMap<>());
        return Encodings.newLazyEncodingRegistry()
                .registerGptBytePairEncoding(params)
                .getEncoding("bench-llama3-regex")
                .orElseThrow();
    }

    private static void samplerBench(Path prepared, Llama3Tokenizer tok) throws IOException {
        PreparedSource en = PreparedSource.open(prepared, "en", PreparedSource.Split.TRAIN, false);
        PreparedSource zh = PreparedSource.open(prepared, "zh", PreparedSource.Split.TRAIN, false);
        int seqLen = 2048, global = 64, micro = 8;
        MixtureSpec spec = new MixtureSpec(
                1,
                seqLen,
                global,
                micro,
                List.of(new MixtureSpec.Source("en", "en", 0.7), new MixtureSpec.Source("zh", "zh", 0.3)),
                "zh",
                AlmrSchedule.parse("0:0.1,1000:0.3,100000:0.5"));
        MixtureSampler s = new MixtureSampler(spec, Map.of("en", en, "zh", zh), tok.bosId(), tok.eosId());
        for (int i = 0; i < 50; i++) s.globalBatch(i, false); // warm-up
        int steps = 200;
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) s.globalBatch(100 + i, false);
        double perGlobal = (System.nanoTime() - t0) / 1e3 / steps;
        t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) s.microBatch(100 + i, i % 4, 4, 1, false);
        double perMicro = (System.nanoTime() - t0) / 1e3 / steps;
        t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) s.globalBatch(100 + i, true);
        double perAudit = (System.nanoTime() - t0) / 1e3 / steps;
        int[] src = new int[global];
        long[] seq = new long[global];
        t0 = System.nanoTime();
        for (int i = 0; i < steps * 10; i++) s.assigner().assign(100 + i, 0, global, src, seq);
        double perAssign = (System.nanoTime() - t0) / 1e3 / (steps * 10);
        long far = 1_000_000_000L;
        s.globalBatch(far, false); // builds the far epoch's shuffle
        t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) s.globalBatch(far + i, false);
        double perFar = (System.nanoTime() - t0) / 1e3 / steps;
        t0 = System.nanoTime();
        s.globalBatch(far * 3, false); // first touch of a new epoch: includes its O(D) shuffle
        double firstFar = (System.nanoTime() - t0) / 1e3;

        System.out.printf(
                Locale.ROOT,
                "%nSampler: T=%d, global batch %d (%.1f MB of ids per step), micro batch %d, en %d docs, zh %d docs%n",
                seqLen,
                global,
                global * (seqLen + 1) * 4 / 1e6,
                micro,
                en.numDocs(),
                zh.numDocs());
        System.out.println("| measurement | µs per call |");
        System.out.println("|---|---:|");
        System.out.printf(Locale.ROOT, "| global batch, step ~100 | %.1f |%n", perGlobal);
        System.out.printf(Locale.ROOT, "| one micro-batch (dp 4, micro 8) | %.1f |%n", perMicro);
        System.out.printf(Locale.ROOT, "| global batch with audit | %.1f |%n", perAudit);
        System.out.printf(Locale.ROOT, "| source assignment only (64 rows) | %.2f |%n", perAssign);
        System.out.printf(Locale.ROOT, "| global batch at step 1e9 (epoch cached) | %.1f |%n", perFar);
        System.out.printf(Locale.ROOT, "| global batch at step 3e9, first touch of its epochs | %.1f |%n", firstFar);
    }
}
