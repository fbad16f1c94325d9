// Opens one split of a prepared source (its .tok/.idx shards) as a DocStore, memory-mapped. Optionally
// verifies each shard's SHA-256 against the manifest first. Documents are numbered across shards in
// manifest order.
package dev.shoal.runtime.data;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Thread-safe: reads go through per-call duplicates of the mapped buffers. */
public final class PreparedSource implements DocStore {

    /** Which split to open. */
    public enum Split {
        TRAIN,
        VALID
    }

    private final String name;
    private final String lang;
    private final IntBuffer[] shardTokens; // per shard: [tokens] uint32 ids
    private final int[] docShard; // [docs]: shard of each document
    private final long[] docStart; // [docs + 1]: start of each document within its shard (last = sentinel)
    private final int[] docLen; // [docs]

    private PreparedSource(
            String name, String lang, IntBuffer[] shardTokens, int[] docShard, long[] docStart, int[] docLen) {
        this.name = name;
        this.lang = lang;
        this.shardTokens = shardTokens;
        this.docShard = docShard;
        this.docStart = docStart;
        this.docLen = docLen;
    }

    /** Opens {@code split} of source {@code sourceName} from the prepared folder {@code dir}. */
    public static PreparedSource open(Path dir, String sourceName, Split split, boolean verifyChecksums)
            throws IOException {
        Manifest m = Manifest.read(dir);
        Manifest.SourceEntry e = m.source(sourceName);
        Manifest.Split s = split == Split.TRAIN ? e.train() : e.valid();
        List<IntBuffer> toks = new ArrayList<>();
        long totalDocs = s.docs();
        if (totalDocs > Integer.MAX_VALUE) throw new IOException(sourceName + ": more than 2^31 documents");
        int[] docShard = new int[(int) totalDocs];
        long[] docStart = new long[(int) totalDocs + 1];
        int[] docLen = new int[(int) totalDocs];
        int d = 0;
        for (int k = 0; k < s.shards().size(); k++) {
            Manifest.Shard sh = s.shards().get(k);
            Path tokFile = dir.resolve(sh.tokens());
            Path idxFile = dir.resolve(sh.index());
            if (verifyChecksums) {
                if (!ShardWriter.sha256Of(tokFile).equals(sh.tokensSha256())) {
                    throw new IOException(
                            tokFile + ": SHA-256 does not match the manifest (corrupt shard; re-run prepare)");
                }
                if (!ShardWriter.sha256Of(idxFile).equals(sh.indexSha256())) {
                    throw new IOException(
                            idxFile + ": SHA-256 does not match the manifest (corrupt index; re-run prepare)");
                }
            }
            IntBuffer t = map(tokFile).asIntBuffer();
            if (t.capacity() != sh.numTokens()) {
                throw new IOException(tokFile + ": holds " + t.capacity() + " tokens, manifest says " + sh.numTokens());
            }
            LongBuffer idx = map(idxFile).asLongBuffer();
            if (idx.capacity() != sh.docs() + 1) {
                throw new IOException(
                        idxFile + ": holds " + idx.capacity() + " offsets, manifest says " + (sh.docs() + 1));
            }
            for (int i = 0; i < sh.docs(); i++, d++) {
                long a = idx.get(i);
                long b = idx.get(i + 1);
                if (b < a || b > sh.numTokens()) throw new IOException(idxFile + ": bad offsets at document " + i);
                docShard[d] = k;
                docStart[d] = a;
                docLen[d] = (int) (b - a);
            }
            toks.add(t);
        }
        return new PreparedSource(e.name(), e.lang(), toks.toArray(new IntBuffer[0]), docShard, docStart, docLen);
    }

    private static MappedByteBuffer map(Path f) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            if (Files.size(f) > Integer.MAX_VALUE) throw new IOException(f + ": shard over 2 GiB");
            MappedByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            b.order(ByteOrder.LITTLE_ENDIAN);
            return b;
        }
    }

    @Override
    public String name() {
        return name;
    }

    public String lang() {
        return lang;
    }

    @Override
    public int numDocs() {
        return docLen.length;
    }

    @Override
    public int docLength(int doc) {
        return docLen[doc];
    }

    @Override
    public void read(int doc, int from, int[] dst, int dstOff, int len) {
        if (from < 0 || len < 0 || from + len > docLen[doc]) {
            throw new IndexOutOfBoundsException(
                    "doc " + doc + " [" + from + ", " + (from + len) + ") of " + docLen[doc]);
        }
        IntBuffer t = shardTokens[docShard[doc]].duplicate();
        t.position((int) (docStart[doc] + from));
        t.get(dst, dstOff, len);
    }

    /** Total tokens over all documents. */
    public long totalTokens() {
        return Arrays.stream(docLen).asLongStream().sum();
    }
}
