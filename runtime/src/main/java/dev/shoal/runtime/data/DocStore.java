// A source's documents as token-id arrays, read by index: what the packer and sampler consume. Document
// ids are dense, 0..numDocs()-1, in prepare order.
package dev.shoal.runtime.data;

/** Read-only and thread-safe. */
public interface DocStore {

    /** Source name, e.g. {@code en-replay}. */
    String name();

    int numDocs();

    /** Tokens in document {@code doc} (no BOS/EOS). */
    int docLength(int doc);

    /** Copies {@code len} ids of {@code doc} starting at {@code from} into {@code dst[dstOff..]}. */
    void read(int doc, int from, int[] dst, int dstOff, int len);

    /** All ids of one document. */
    default int[] doc(int doc) {
        int[] out = new int[docLength(doc)];
        read(doc, 0, out, 0, out.length);
        return out;
    }

    /** An in-memory store, for tests and generated corpora. */
    static DocStore of(String name, int[][] docs) {
        int[][] copy = docs.clone();
        return new DocStore() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public int numDocs() {
                return copy.length;
            }

            @Override
            public int docLength(int doc) {
                return copy[doc].length;
            }

            @Override
            public void read(int doc, int from, int[] dst, int dstOff, int len) {
                System.arraycopy(copy[doc], from, dst, dstOff, len);
            }
        };
    }
}
