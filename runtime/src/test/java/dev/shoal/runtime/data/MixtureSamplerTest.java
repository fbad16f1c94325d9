// The sampler end to end on in-memory documents: micro-batches are slices of the global batch for any DP
// size; a run interrupted at step 6 and resumed at another DP size gives the same samples as an
// uninterrupted one, and the audit proves every label position of every source is consumed exactly once;
// packing frames documents with BOS/EOS; epochs are fresh permutations; bad DP sizes are refused.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MixtureSamplerTest {

    static final int BOS = 1000;
    static final int EOS = 1001;
    static final int T = 16;

    /** Document d of source s holds ids s·100000 + d·100 + i, so every id names its origin. */
    static DocStore store(String name, int s, int docs, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] d = new int[docs][];
        for (int i = 0; i < docs; i++) {
            d[i] = new int[1 + r.nextInt(40)];
            for (int k = 0; k < d[i].length; k++) d[i][k] = 2000 + s * 100_000 + i * 100 + k;
        }
        return DocStore.of(name, d);
    }

    static Map<String, DocStore> stores() {
        Map<String, DocStore> m = new HashMap<>();
        m.put("en", store("en", 0, 37, 1));
        m.put("zh", store("zh", 1, 23, 2));
        return m;
    }

    static MixtureSpec spec() {
        return new MixtureSpec(
                42,
                T,
                8,
                2,
                List.of(new MixtureSpec.Source("en", "en", 0.7), new MixtureSpec.Source("zh", "zh", 0.3)),
                "zh",
                AlmrSchedule.parse("0:0.2,5:0.5"));
    }

    static MixtureSampler sampler() {
        return new MixtureSampler(spec(), stores(), BOS, EOS);
    }

    /** One step as the trainer sees it: every rank's micro-batches, put back in global row order. */
    static List<int[]> stepRows(MixtureSampler s, long step, int dp, List<MixtureSampler.RowAudit> audit) {
        BatchLayout l = s.layout(dp);
        int[][] rows = new int[l.globalBatch()][];
        for (int rank = 0; rank < dp; rank++) {
            for (int m = 0; m < l.gradAccum(); m++) {
                MixtureSampler.Batch b = s.microBatch(step, rank, dp, m, true);
                assertEquals(l.firstRow(rank, m), b.firstRow());
                for (int i = 0; i < b.rows(); i++) {
                    assertTrue(rows[b.firstRow() + i] == null, "row given twice");
                    rows[b.firstRow() + i] = b.row(i);
                }
                audit.addAll(b.audit());
            }
        }
        return List.of(rows);
    }

    @Test
    void microBatchesAreSlicesOfTheGlobalBatch() {
        MixtureSampler s = sampler();
        for (long step : new long[] {0, 3, 77}) {
            MixtureSampler.Batch g = s.globalBatch(step, false);
            for (int dp : new int[] {1, 2, 4}) {
                List<int[]> rows = stepRows(s, step, dp, new ArrayList<>());
                for (int r = 0; r < g.rows(); r++) assertArrayEquals(g.row(r), rows.get(r), "dp " + dp + " row " + r);
            }
        }
    }

    @Test
    void resumeAtAnotherDpSizeConsumesEverythingExactlyOnce() {
        int steps = 10;
        List<MixtureSampler.RowAudit> refAudit = new ArrayList<>();
        List<List<int[]>> ref = new ArrayList<>();
        MixtureSampler uninterrupted = sampler();
        for (int st = 0; st < steps; st++) ref.add(stepRows(uninterrupted, st, 1, refAudit));

        List<MixtureSampler.RowAudit> audit = new ArrayList<>();
        List<List<int[]>> run = new ArrayList<>();
        MixtureSampler first = sampler();
        for (int st = 0; st < 6; st++) run.add(stepRows(first, st, 2, audit)); // crash after step 5
        MixtureSampler resumed = sampler(); // fresh process: knows only the step number
        for (int st = 6; st < steps; st++) run.add(stepRows(resumed, st, 4, audit));

        for (int st = 0; st < steps; st++) {
            for (int r = 0; r < 8; r++)
                assertArrayEquals(ref.get(st).get(r), run.get(st).get(r), "step " + st);
        }
        assertEquals(refAudit, audit);

        // Exactly once: per source, the label positions [start+1, start+T] tile [1, n·T] with no gap or repeat.
        for (int src = 0; src < 2; src++) {
            Set<Long> labels = new HashSet<>();
            long count = 0;
            for (MixtureSampler.RowAudit a : audit) {
                if (a.source() != src) continue;
                count++;
                for (long p = a.streamStart() + 1; p <= a.streamStart() + T; p++) {
                    assertTrue(labels.add(p), "label position " + p + " of source " + src + " consumed twice");
                }
            }
            assertEquals(count * T, labels.size());
            for (long p = 1; p <= count * T; p++) assertTrue(labels.contains(p), "position " + p + " skipped");
            assertEquals(count * T, first.labelTokensConsumed(steps)[src]);
        }
    }

    @Test
    void rowsAreFramedDocumentsFromTheAudit() {
        MixtureSampler s = sampler();
        Map<String, DocStore> st = stores();
        for (long step = 0; step < 20; step++) {
            MixtureSampler.Batch b = s.globalBatch(step, true);
            for (int r = 0; r < b.rows(); r++) {
                MixtureSampler.RowAudit a = b.audit().get(r);
                DocStore d = st.get(s.spec().sources().get(a.source()).name());
                List<Integer> expect = new ArrayList<>();
                for (SourceStream.Segment seg : a.segments()) {
                    int[] doc = d.doc(seg.doc());
                    for (int p = seg.from(); p < seg.to(); p++) {
                        expect.add(p == 0 ? BOS : p == doc.length + 1 ? EOS : doc[p - 1]);
                    }
                }
                assertArrayEquals(expect.stream().mapToInt(i -> i).toArray(), b.row(r));
                assertEquals(a.source(), b.source()[r]);
                // the ids confirm the source
                for (int id : b.row(r)) if (id >= 2000) assertEquals(a.source(), (id - 2000) / 100_000);
            }
        }
    }

    @Test
    void everyEpochIsAFreshPermutationOfAllDocuments() {
        MixtureSampler s = sampler();
        // a BOS on the one-token overlap of consecutive sequences is seen twice, hence the ordered set
        Map<Long, java.util.LinkedHashSet<Integer>> orderPerEpoch = new HashMap<>();
        for (long step = 0; step < 200; step++) {
            for (MixtureSampler.RowAudit a : s.globalBatch(step, true).audit()) {
                if (a.source() != 1) continue;
                for (SourceStream.Segment seg : a.segments()) {
                    if (seg.from() == 0)
                        orderPerEpoch
                                .computeIfAbsent(seg.epoch(), e -> new java.util.LinkedHashSet<>())
                                .add(seg.doc());
                }
            }
        }
        assertTrue(orderPerEpoch.size() >= 3, "epochs seen: " + orderPerEpoch.size());
        List<Integer> e0 = new ArrayList<>(orderPerEpoch.get(0L));
        List<Integer> e1 = new ArrayList<>(orderPerEpoch.get(1L));
        assertEquals(23, e0.size());
        assertEquals(23, e1.size());
        assertEquals(new HashSet<>(e0), new HashSet<>(e1));
        assertNotEquals(e0, e1, "epochs are shuffled differently");
        // another seed, another order
        MixtureSpec other = new MixtureSpec(43, T, 8, 2, spec().sources(), "zh", spec().almrSchedule());
        MixtureSampler s2 = new MixtureSampler(other, stores(), BOS, EOS);
        assertNotEquals(s.globalBatch(0, false).row(0).length == 0 ? null : rowsOf(s, 0), rowsOf(s2, 0));
    }

    static List<List<Integer>> rowsOf(MixtureSampler s, long step) {
        List<List<Integer>> out = new ArrayList<>();
        MixtureSampler.Batch b = s.globalBatch(step, false);
        for (int r = 0; r < b.rows(); r++) {
            List<Integer> row = new ArrayList<>();
            for (int id : b.row(r)) row.add(id);
            out.add(row);
        }
        return out;
    }

    @Test
    void dpSizesThatDoNotDivideAreRefusedWithTheSizesThatWork() {
        MixtureSampler s = sampler();
        var e = assertThrows(IllegalArgumentException.class, () -> s.microBatch(0, 0, 3, 0, false));
        assertEquals(
                "dp 3 × micro batch 2 does not divide the global batch 8; DP sizes that work: [1, 2, 4]",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.microBatch(0, 2, 2, 0, false));
        assertThrows(IllegalArgumentException.class, () -> s.microBatch(0, 0, 2, 2, false));
        assertThrows(
                IllegalArgumentException.class,
                () -> new MixtureSampler(spec(), Map.of("en", stores().get("en")), BOS, EOS));
    }
}
