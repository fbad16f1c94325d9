// One source's documents as an endless packed token stream: epoch after epoch, each a seeded random
// permutation of the documents, each document framed as <|begin_of_text|> doc <|end_of_text|>. Position p
// of the stream is a pure function of (seed, source name, p); reading it costs O(log D) after the
// epoch's permutation and prefix sums are built (O(D), cached for the two most recent epochs).
package dev.shoal.runtime.data;

import java.util.List;
import java.util.SplittableRandom;

/** Thread-safe; epoch tables are built under a lock and then shared read-only. */
public final class SourceStream {

    /** A stretch of one document's framed span, for audits: span positions [from, to), 0 = BOS, len+1 = EOS. */
    public record Segment(long epoch, int doc, int from, int to) {}

    private final DocStore store;
    private final long seed;
    private final int bos;
    private final int eos;
    private final long epochTokens; // Σ (len + 2)
    private final Epoch[] cache = new Epoch[2];

    private record Epoch(long index, int[] order, long[] start) {} // order[i] = doc at slot i; start[i] = span start

    public SourceStream(DocStore store, long seed, int bosId, int eosId) {
        if (store.numDocs() == 0) throw new IllegalArgumentException("source " + store.name() + " has no documents");
        this.store = store;
        this.seed = seed;
        this.bos = bosId;
        this.eos = eosId;
        long t = 0;
        for (int d = 0; d < store.numDocs(); d++) t += store.docLength(d) + 2L;
        this.epochTokens = t;
    }

    public String name() {
        return store.name();
    }

    /** Tokens per epoch including BOS and EOS. */
    public long epochTokens() {
        return epochTokens;
    }

    /** Copies stream positions [pos, pos + len) into dst[off..]; appends audit segments if {@code audit} != null. */
    public void read(long pos, int[] dst, int off, int len, List<Segment> audit) {
        while (len > 0) {
            long e = pos / epochTokens;
            long q = pos % epochTokens;
            Epoch ep = epoch(e);
            int slot = findSlot(ep.start, q);
            int doc = ep.order[slot];
            int docLen = store.docLength(doc);
            int from = (int) (q - ep.start[slot]);
            int n = (int) Math.min(len, docLen + 2L - from);
            int at = off;
            int p = from;
            int end = from + n;
            if (p == 0) {
                dst[at++] = bos;
                p++;
            }
            int body = Math.min(end, docLen + 1) - p;
            if (body > 0) {
                store.read(doc, p - 1, dst, at, body);
                at += body;
                p += body;
            }
            if (p < end) {
                dst[at++] = eos; // p == docLen + 1
                p++;
            }
            if (audit != null) audit.add(new Segment(e, doc, from, end));
            pos += n;
            off += n;
            len -= n;
        }
    }

    private static int findSlot(long[] start, long q) {
        int lo = 0, hi = start.length - 1; // start[lo] <= q < start[hi]; start has D+1 entries
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (start[mid] <= q) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    private Epoch epoch(long e) {
        synchronized (cache) {
            for (Epoch c : cache) if (c != null && c.index == e) return c;
        }
        Epoch built = build(e);
        synchronized (cache) {
            cache[1] = cache[0];
            cache[0] = built;
        }
        return built;
    }

    /** Fisher-Yates over the document ids, seeded by (seed, source name, epoch). */
    private Epoch build(long e) {
        int n = store.numDocs();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        SplittableRandom r = new SplittableRandom(
                mix(mix(seed ^ 0x5348_4f41_4cL) ^ store.name().hashCode()) + e);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        long[] start = new long[n + 1];
        for (int i = 0; i < n; i++) start[i + 1] = start[i] + store.docLength(order[i]) + 2L;
        return new Epoch(e, order, start);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
