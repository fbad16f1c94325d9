// Held-out evaluation sequences of one source: its validation split packed in document order (no
// shuffle, one pass, BOS/EOS framing as in training), so every eval interval scores the same tokens and
// the per-language validation losses are comparable across steps and runs.
package dev.shoal.runtime.data;

import java.util.ArrayList;
import java.util.List;

/** Stateless. */
public final class ValidationSet {

    private ValidationSet() {}

    /**
     * Up to {@code maxSequences} sequences of {@code seqLen + 1} ids (stride seqLen, so each id after the first
     * is a label once); a final partial sequence is dropped.
     */
    public static List<int[]> sequences(DocStore valid, int seqLen, int maxSequences, int bosId, int eosId) {
        List<int[]> out = new ArrayList<>();
        int[] cur = new int[seqLen + 1];
        int fill = 0;
        for (int d = 0; d < valid.numDocs() && out.size() < maxSequences; d++) {
            int[] doc = valid.doc(d);
            int[] framed = new int[doc.length + 2];
            framed[0] = bosId;
            System.arraycopy(doc, 0, framed, 1, doc.length);
            framed[framed.length - 1] = eosId;
            for (int id : framed) {
                cur[fill++] = id;
                if (fill == seqLen + 1) {
                    out.add(cur);
                    if (out.size() == maxSequences) break;
                    int last = cur[seqLen];
                    cur = new int[seqLen + 1];
                    cur[0] = last; // one-id overlap, as in training
                    fill = 1;
                }
            }
        }
        return out;
    }
}
