// `shoal prepare` as a library: tokenizes the documents of named sources into token shards with a
// document index, a held-out validation split per source and a JSON manifest. Guarantees:
//  - the output depends only on the inputs and settings, not on the thread count (files are cut into
//    chunks at document boundaries by a fixed rule; each chunk gives one train and one valid shard);
//  - a re-run skips every chunk whose completion record matches the inputs and settings and whose shard
//    files still hash to the recorded SHA-256; anything else is redone;
//  - a bad record (invalid UTF-8 or JSON, missing or non-string field, lone surrogate, empty text) is
//    counted by kind and skipped, never fatal; ANSI escape sequences are removed and counted.
package dev.shoal.runtime.data;

import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Entry point: {@link #run(Config)}. */
public final class Preparer {

    /** Largest chunk; a single document bigger than this is refused with its file and offset. */
    static final int MAX_CHUNK_BYTES = 1 << 30;

    /** Smallest chunk the automatic sizing picks for small corpora (an explicit smaller size still wins). */
    static final int MIN_AUTO_CHUNK_BYTES = 1 << 20;

    /**
     * @param threads worker threads (all cores by default in the CLI)
     * @param chunkBytes target input bytes per chunk (one shard pair per chunk); corpora under 64 chunks of
     *     this size use max(1 MiB, input/64) instead
     * @param progress where the progress bar goes (stderr in the CLI), or null
     */
    public record Config(
            Path tokenizer,
            Path outDir,
            List<SourceSpec> sources,
            int threads,
            int chunkBytes,
            boolean stripAnsi,
            PrintStream progress) {
        public Config {
            sources = List.copyOf(sources);
            if (sources.isEmpty()) throw new IllegalArgumentException("no sources given");
            Set<String> names = new HashSet<>();
            for (SourceSpec s : sources) {
                if (!names.add(s.name()))
                    throw new IllegalArgumentException("source name '" + s.name() + "' given twice");
            }
            if (threads < 1) throw new IllegalArgumentException("threads " + threads + " must be ≥ 1");
            // ≤ 256 MiB of text gives ≤ 1 GiB of uint32 ids even at one token per byte: one mappable shard
            if (chunkBytes < 1024 || chunkBytes > MAX_CHUNK_BYTES / 4) {
                throw new IllegalArgumentException(
                        "chunk size " + chunkBytes + " bytes must be in [1 KiB, " + (MAX_CHUNK_BYTES / 4) + "]");
            }
        }
    }

    /** What a run did: the manifest, chunks tokenized vs reused, input bytes and wall time. */
    public record Report(Manifest manifest, int chunksTokenized, int chunksReused, long inputBytes, double seconds) {
        /** A human-readable summary, one line per source plus totals. */
        public String summary() {
            StringBuilder b = new StringBuilder();
            for (Manifest.SourceEntry s : manifest.sources()) {
                b.append(String.format(
                        Locale.ROOT,
                        "%-12s %-4s train %,d docs %,d tokens | valid %,d docs %,d tokens | ansi stripped %,d | bad %s%n",
                        s.name(),
                        s.lang(),
                        s.train().docs(),
                        s.train().tokens(),
                        s.valid().docs(),
                        s.valid().tokens(),
                        s.ansiSequencesStripped(),
                        s.bad().isEmpty() ? "none" : s.bad()));
            }
            b.append(String.format(
                    Locale.ROOT,
                    "%d chunks tokenized, %d reused (checksums verified); %.1f MB in %.1f s = %.2f MB/s",
                    chunksTokenized,
                    chunksReused,
                    inputBytes / 1e6,
                    seconds,
                    seconds > 0 ? inputBytes / 1e6 / seconds : 0));
            return b.toString();
        }
    }

    private Preparer() {}

    public static Report run(Config c) throws IOException {
        return run(c, Llama3Tokenizer.load(c.tokenizer()));
    }

    /** As {@link #run(Config)} with the tokenizer already loaded from {@code c.tokenizer()}. */
    public static Report run(Config c, Llama3Tokenizer tok) throws IOException {
        long t0 = System.nanoTime();
        String tokSha = ShardWriter.sha256Of(c.tokenizer());
        Files.createDirectories(c.outDir());

        // Each file is cut at document boundaries into pieces of about chunkBytes; consecutive pieces of a
        // source (small files together) are grouped into chunks of at least chunkBytes, one shard pair each.
        // Small corpora get smaller chunks (at least 64 of them, at least 1 MiB each) so all cores have work;
        // the rule depends on the input size only, never on the thread count.
        long inputBytes = 0;
        for (SourceSpec s : c.sources()) for (Path f : s.inputs()) inputBytes += Files.size(f);
        int chunkBytes = (int) Math.min(c.chunkBytes(), Math.max(MIN_AUTO_CHUNK_BYTES, inputBytes / 64 + 1));
        List<Planned> plan = new ArrayList<>();
        long totalBytes = 0;
        for (SourceSpec s : c.sources()) {
            List<Piece> group = new ArrayList<>();
            long groupBytes = 0;
            for (Path file : s.inputs()) {
                for (long[] r : cutFile(file, s.format(), chunkBytes)) {
                    group.add(new Piece(file, r[0], r[1]));
                    groupBytes += r[1] - r[0];
                    if (groupBytes >= chunkBytes) {
                        plan.add(planned(s, group, plan, tokSha, c.stripAnsi()));
                        totalBytes += groupBytes;
                        group = new ArrayList<>();
                        groupBytes = 0;
                    }
                }
            }
            if (!group.isEmpty()) {
                plan.add(planned(s, group, plan, tokSha, c.stripAnsi()));
                totalBytes += groupBytes;
            }
        }

        ExecutorService pool = Executors.newFixedThreadPool(c.threads(), daemon("prepare"));
        // fsync + rename + completion record run on their own thread so the workers keep tokenizing
        ExecutorService committer = Executors.newSingleThreadExecutor(daemon("prepare-commit"));
        List<Future<Future<Manifest.ChunkRecord>>> futures = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) futures.add(null);
        AtomicInteger reused = new AtomicInteger();
        List<Manifest.ChunkRecord> results = new ArrayList<>();
        // largest chunks first, so the workers finish together; results are still collected in plan order
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) order.add(i);
        order.sort(Comparator.comparingLong((Integer i) -> -plan.get(i).bytes()).thenComparingInt(i -> i));
        try (ProgressBar bar = new ProgressBar(c.progress(), "prepare", totalBytes)) {
            ThreadLocal<Map<SourceSpec, RecordReader>> readers = ThreadLocal.withInitial(LinkedHashMap::new);
            for (int i : order) {
                Planned p = plan.get(i);
                futures.set(i, pool.submit(() -> {
                    Manifest.ChunkRecord done = reusable(c.outDir(), p);
                    if (done != null) {
                        reused.incrementAndGet();
                        bar.add(p.bytes());
                        return CompletableFuture.completedFuture(done);
                    }
                    RecordReader rr = readers.get()
                            .computeIfAbsent(p.source, s -> new RecordReader(s.format(), s.textField(), c.stripAnsi()));
                    return tokenizeChunk(c.outDir(), p, tok, rr, bar, committer);
                }));
            }
            for (Future<Future<Manifest.ChunkRecord>> f : futures)
                results.add(f.get().get());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) throw io;
            if (cause instanceof RuntimeException re) throw re;
            throw new IOException(cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pool.shutdownNow();
            committer.shutdown();
        }

        Manifest manifest = assemble(c, tok, tokSha, results, plan);
        manifest.write(c.outDir());
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Report(manifest, plan.size() - reused.get(), reused.get(), totalBytes, secs);
    }

    /** Bytes [start, end) of one input file, cut at document boundaries. */
    private record Piece(Path file, long start, long end) {}

    private static Planned planned(
            SourceSpec s, List<Piece> pieces, List<Planned> plan, String tokSha, boolean stripAnsi) throws IOException {
        int index = 0;
        for (Planned p : plan) if (p.source == s) index++;
        String base = String.format(Locale.ROOT, "c%05d", index);
        return new Planned(s, List.copyOf(pieces), chunkKey(tokSha, s, stripAnsi, pieces), base);
    }

    private record Planned(SourceSpec source, List<Piece> pieces, String key, String base) {
        long bytes() {
            long b = 0;
            for (Piece p : pieces) b += p.end - p.start;
            return b;
        }

        Path record(Path out) {
            return out.resolve(source.name()).resolve("chunks").resolve(base + ".json");
        }
    }

    /** Cuts {@code file} into chunks of about {@code chunkBytes}, each ending on a document boundary. */
    static List<long[]> cutFile(Path file, DocFormat format, int chunkBytes) throws IOException {
        List<long[]> out = new ArrayList<>();
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long start = 0;
            while (start < size) {
                long end = start + chunkBytes >= size ? size : findCut(ch, format, start + chunkBytes, size);
                if (end - start > MAX_CHUNK_BYTES) {
                    throw new IllegalArgumentException(file + ": no document boundary between byte " + start + " and "
                            + (start + MAX_CHUNK_BYTES) + " (one document over 1 GiB, or wrong --format?)");
                }
                out.add(new long[] {start, end});
                start = end;
            }
        }
        return out;
    }

    /** First cut at or after {@code target} (looking two bytes back for multi-byte separators), or size. */
    private static long findCut(FileChannel ch, DocFormat format, long target, long size) throws IOException {
        final int window = 1 << 16;
        long from = target - 2;
        byte[] buf = new byte[window];
        while (from < size) {
            int len = (int) Math.min(window, size - from);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, len);
            long pos = from;
            while (bb.hasRemaining()) {
                int n = ch.read(bb, pos);
                if (n < 0) break;
                pos += n;
            }
            int cut = format.nextCut(buf, 2, len);
            if (cut >= 0) return Math.min(size, from + cut);
            from += window - 4;
        }
        return size;
    }

    private static String chunkKey(String tokSha, SourceSpec s, boolean stripAnsi, List<Piece> pieces)
            throws IOException {
        StringBuilder desc = new StringBuilder(String.join(
                "|",
                Manifest.FORMAT,
                tokSha,
                s.name(),
                s.format().id(),
                s.textField(),
                Double.toString(s.validFraction()),
                Boolean.toString(stripAnsi)));
        for (Piece p : pieces) {
            desc.append('|').append(p.file.toAbsolutePath().normalize());
            desc.append('|').append(Files.size(p.file));
            desc.append('|').append(Files.getLastModifiedTime(p.file).toMillis());
            desc.append('|').append(p.start).append('|').append(p.end);
        }
        MessageDigest md = ShardWriter.sha256();
        return HexFormat.of().formatHex(md.digest(desc.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** The chunk's completion record if it matches this plan and its shards verify; null otherwise. */
    private static Manifest.ChunkRecord reusable(Path out, Planned p) {
        Path rec = p.record(out);
        if (!Files.isRegularFile(rec)) return null;
        try {
            Manifest.ChunkRecord r = Manifest.JSON.readValue(rec.toFile(), Manifest.ChunkRecord.class);
            if (!p.key.equals(r.key())) return null;
            for (Manifest.Shard s : List.of(r.train(), r.valid())) {
                Path t = out.resolve(s.tokens());
                Path i = out.resolve(s.index());
                if (!Files.isRegularFile(t) || !Files.isRegularFile(i)) return null;
                if (!ShardWriter.sha256Of(t).equals(s.tokensSha256())) return null;
                if (!ShardWriter.sha256Of(i).equals(s.indexSha256())) return null;
            }
            return r;
        } catch (IOException | RuntimeException e) {
            return null; // unreadable or partial record: redo the chunk
        }
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Tokenizes one chunk into temporary shards; the returned future publishes them (see committer). */
    private static Future<Manifest.ChunkRecord> tokenizeChunk(
            Path out, Planned p, Llama3Tokenizer tok, RecordReader rr, ProgressBar bar, ExecutorService committer)
            throws IOException {
        EnumMap<BadKind, Long> bad = new EnumMap<>(BadKind.class);
        long ansi = 0;
        long textBytes = 0;
        long records = 0;
        String src = p.source.name();
        ShardWriter train = new ShardWriter(out, src + "/train/" + p.base);
        ShardWriter valid = new ShardWriter(out, src + "/valid/" + p.base);
        try {
            for (Piece piece : p.pieces) {
                int len = (int) (piece.end - piece.start);
                byte[] buf = new byte[len];
                try (FileChannel ch = FileChannel.open(piece.file, StandardOpenOption.READ)) {
                    ByteBuffer bb = ByteBuffer.wrap(buf);
                    long pos = piece.start;
                    while (bb.hasRemaining()) {
                        int n = ch.read(bb, pos);
                        if (n < 0) throw new IOException(piece.file + " shrank while being read");
                        pos += n;
                    }
                }
                List<int[]> recs = new ArrayList<>();
                p.source.format().records(buf, len, recs);
                records += recs.size();
                int reported = 0;
                for (int[] r : recs) {
                    RecordReader.Outcome o = rr.read(buf, r[0], r[1]);
                    ansi += o.ansiSequences();
                    if (o.bad() != null) {
                        bad.merge(o.bad(), 1L, Long::sum);
                    } else {
                        textBytes += r[1] - r[0];
                        int[] ids = tok.encode(o.text());
                        (SourceSpec.isValidation(o.text(), p.source.validFraction()) ? valid : train).add(ids);
                    }
                    if (r[1] - reported > (1 << 20)) {
                        bar.add(r[1] - reported);
                        reported = r[1];
                    }
                }
                bar.add(len - reported);
            }
            Manifest.Shard t = train.finish();
            Manifest.Shard v = valid.finish();
            Map<String, Long> badById = new LinkedHashMap<>();
            bad.forEach((k, n) -> badById.put(k.id(), n));
            Manifest.ChunkRecord rec = new Manifest.ChunkRecord(p.key, records, textBytes, ansi, badById, t, v);
            return committer.submit(() -> {
                // the completion record is written only once both shards are durable under their final names
                try (train;
                        valid) {
                    train.publish();
                    valid.publish();
                }
                Files.createDirectories(p.record(out).getParent());
                Manifest.writeAtomically(p.record(out), rec);
                return rec;
            });
        } catch (IOException | RuntimeException e) {
            train.close();
            valid.close();
            throw e;
        }
    }

    private static Manifest assemble(
            Config c, Llama3Tokenizer tok, String tokSha, List<Manifest.ChunkRecord> results, List<Planned> plan)
            throws IOException {
        List<Manifest.SourceEntry> entries = new ArrayList<>();
        for (SourceSpec s : c.sources()) {
            long records = 0, textBytes = 0, ansi = 0, trDocs = 0, trTok = 0, vaDocs = 0, vaTok = 0;
            Map<String, Long> bad = new LinkedHashMap<>();
            for (BadKind k : BadKind.values()) bad.put(k.id(), 0L);
            List<Manifest.Shard> tr = new ArrayList<>();
            List<Manifest.Shard> va = new ArrayList<>();
            for (int i = 0; i < plan.size(); i++) {
                if (plan.get(i).source != s) continue;
                Manifest.ChunkRecord r = results.get(i);
                records += r.records();
                textBytes += r.textBytes();
                ansi += r.ansiSequences();
                r.bad().forEach((k, n) -> bad.merge(k, n, Long::sum));
                tr.add(r.train());
                va.add(r.valid());
                trDocs += r.train().docs();
                trTok += r.train().numTokens();
                vaDocs += r.valid().docs();
                vaTok += r.valid().numTokens();
            }
            bad.values().removeIf(n -> n == 0);
            List<Manifest.InputFile> inputs = new ArrayList<>();
            for (Path p : s.inputs())
                inputs.add(new Manifest.InputFile(p.toAbsolutePath().toString(), Files.size(p)));
            entries.add(new Manifest.SourceEntry(
                    s.name(),
                    s.lang(),
                    s.format().id(),
                    s.textField(),
                    s.validFraction(),
                    inputs,
                    records,
                    textBytes,
                    ansi,
                    bad,
                    new Manifest.Split(trDocs, trTok, tr),
                    new Manifest.Split(vaDocs, vaTok, va)));
        }
        Manifest.TokenizerInfo ti = new Manifest.TokenizerInfo(
                c.tokenizer().toAbsolutePath().toString(),
                tokSha,
                tok.numRanks(),
                tok.vocabSize(),
                tok.bosId(),
                tok.eosId());
        return new Manifest(Manifest.FORMAT, ti, entries);
    }
}
