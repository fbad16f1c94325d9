// The mixture sampler: what a trainer asks for the tokens of (step, dp_rank, dp_size, micro_index).
//
// Determinism: the global batch of step s is a pure function of (spec, s, the prepared documents). Row
// g = s·B + r of the run comes from source i = assign(g) (MixtureAssigner, closed form), and is that
// source's k-th sequence, k = the number of earlier rows from source i; it holds the source stream's
// positions [k·T, k·T + T] (T + 1 ids: inputs [0, T), labels [1, T]). Consecutive sequences of a source
// overlap by one id, so every stream position ≥ 1 is a label exactly once over the run. A micro-batch
// is the slice of that global batch given by BatchLayout, so it does not matter which DP size produced
// the earlier steps, and resuming at step s needs nothing but s.
//
// Cost of one step, for any s: O(log) exact arithmetic for the running ALMR sum, O(sources) per row to
// assign it, O(T + log D) per row to copy its tokens; an epoch's shuffle (O(D)) is built the first time
// a source enters that epoch and cached.
package dev.shoal.runtime.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Thread-safe: several data loaders may ask for different steps or ranks at once. */
public final class MixtureSampler {

    /** What went into one row: source, its sequence number and stream start, and the document pieces. */
    public record RowAudit(
            long step, int row, int source, long sourceSeq, long streamStart, List<SourceStream.Segment> segments) {}

    /**
     * A micro-batch (or a whole global batch): {@code rows} sequences of {@code seqLen + 1} ids.
     *
     * @param firstRow global row (within the step) of the first sequence
     * @param source [rows]: the source index of each row
     * @param tokens [rows, seqLen + 1] ids, off-heap; inputs are [:, 0:T], labels [:, 1:T+1]
     * @param audit per row, or empty when not asked for
     */
    public record Batch(
            long step, int firstRow, int rows, int seqLen, int[] source, IntBuffer tokens, List<RowAudit> audit) {
        /** Id at (row, position), position in [0, seqLen]. */
        public int token(int row, int pos) {
            return tokens.get(row * (seqLen + 1) + pos);
        }

        /** Row {@code row} as an int array of seqLen + 1 ids (a copy). */
        public int[] row(int row) {
            int[] out = new int[seqLen + 1];
            tokens.duplicate().position(row * (seqLen + 1)).get(out);
            return out;
        }
    }

    private final MixtureSpec spec;
    private final MixtureAssigner assigner;
    private final SourceStream[] streams; // [sources], spec order

    /**
     * @param stores the documents of every source in {@code spec}, by source name (e.g. PreparedSource train splits)
     * @param bosId {@code <|begin_of_text|>}
     * @param eosId {@code <|end_of_text|>}
     */
    public MixtureSampler(MixtureSpec spec, Map<String, ? extends DocStore> stores, int bosId, int eosId) {
        this.spec = spec;
        this.assigner = new MixtureAssigner(spec);
        this.streams = new SourceStream[spec.sources().size()];
        for (int i = 0; i < streams.length; i++) {
            String name = spec.sources().get(i).name();
            DocStore st = stores.get(name);
            if (st == null) throw new IllegalArgumentException("no prepared documents for source '" + name + "'");
            streams[i] = new SourceStream(st, spec.seed(), bosId, eosId);
        }
    }

    /**
     * Opens the train split of every source in {@code spec} from a {@code shoal prepare} folder (memory-mapped;
     * checksums verified when asked) and uses the BOS/EOS ids recorded in its manifest.
     */
    public static MixtureSampler fromPrepared(Path dir, MixtureSpec spec, boolean verifyChecksums) throws IOException {
        Manifest m = Manifest.read(dir);
        Map<String, DocStore> stores = new HashMap<>();
        for (MixtureSpec.Source s : spec.sources()) {
            Manifest.SourceEntry e = m.source(s.name());
            if (!e.lang().equals(s.lang())) {
                throw new IllegalArgumentException("source " + s.name() + " has language '" + e.lang() + "' in " + dir
                        + " but '" + s.lang() + "' in the mixture");
            }
            stores.put(s.name(), PreparedSource.open(dir, s.name(), PreparedSource.Split.TRAIN, verifyChecksums));
        }
        return new MixtureSampler(
                spec, stores, m.tokenizer().bosId(), m.tokenizer().eosId());
    }

    public MixtureSpec spec() {
        return spec;
    }

    public MixtureAssigner assigner() {
        return assigner;
    }

    /** The layout for a DP size, with the spec's global and micro batch (refuses sizes that do not divide). */
    public BatchLayout layout(int dpSize) {
        return new BatchLayout(spec.globalBatch(), spec.microBatch(), dpSize);
    }

    /** The whole global batch of {@code step}. */
    public Batch globalBatch(long step, boolean audit) {
        return rows(step, 0, spec.globalBatch(), audit);
    }

    /** The micro-batch {@code microIndex} of DP rank {@code dpRank} out of {@code dpSize}, for {@code step}. */
    public Batch microBatch(long step, int dpRank, int dpSize, int microIndex, boolean audit) {
        BatchLayout l = layout(dpSize);
        return rows(step, l.firstRow(dpRank, microIndex), spec.microBatch(), audit);
    }

    /** Rows [fromRow, fromRow + n) of step {@code step}'s global batch. */
    public Batch rows(long step, int fromRow, int n, boolean audit) {
        if (step < 0) throw new IllegalArgumentException("step " + step + " must be ≥ 0");
        int t1 = spec.seqLen() + 1;
        int[] source = new int[n];
        long[] seq = new long[n];
        assigner.assign(step, fromRow, n, source, seq);
        IntBuffer tokens = ByteBuffer.allocateDirect(n * t1 * Integer.BYTES)
                .order(ByteOrder.nativeOrder())
                .asIntBuffer();
        int[] row = new int[t1];
        List<RowAudit> audits = audit ? new ArrayList<>(n) : Collections.emptyList();
        for (int i = 0; i < n; i++) {
            long start = Math.multiplyExact(seq[i], (long) spec.seqLen());
            List<SourceStream.Segment> segs = audit ? new ArrayList<>(4) : null;
            streams[source[i]].read(start, row, 0, t1, segs);
            tokens.put(i * t1, row);
            if (audit) audits.add(new RowAudit(step, fromRow + i, source[i], seq[i], start, List.copyOf(segs)));
        }
        return new Batch(step, fromRow, n, spec.seqLen(), source, tokens, audits);
    }

    /**
     * Tokens each source has supplied as labels after {@code steps} whole steps (T per sequence): what a
     * checkpoint reports as consumed. Closed form, no replay.
     */
    public long[] labelTokensConsumed(long steps) {
        long[] c = assigner.counts(Math.multiplyExact(steps, (long) spec.globalBatch()), streams.length);
        for (int i = 0; i < c.length; i++) c[i] *= spec.seqLen();
        return c;
    }

    /** Epochs of source {@code i} begun after {@code steps} steps (fractional). */
    public double epochs(long steps, int i) {
        return (double) labelTokensConsumed(steps)[i] / streams[i].epochTokens();
    }
}
