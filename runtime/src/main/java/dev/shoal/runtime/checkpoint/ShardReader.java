// Reads tensor-shard data of one step folder from memory-mapped shard files, checking CRC32C.
// Guarantees: before any byte of a tensor shard is handed out, every CRC block it lies in has been
// read and checked once (a mismatch throws naming the file, tensor, kind and block); only the mapped
// windows that hold requested bytes are touched, so a rank reads its own ranges (plus the rest of
// their CRC blocks) and nothing else; bytesCopied() counts the bytes handed out.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.TensorShard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

final class ShardReader implements ShardSource {
    /** Largest mapping kept open per file. */
    static final long WINDOW_BYTES = 256L << 20;

    private static final class OpenFile {
        final FileChannel ch;
        final long size;
        MappedByteBuffer window;
        long windowStart = -1, windowEnd = -1;

        OpenFile(FileChannel ch) throws IOException {
            this.ch = ch;
            this.size = ch.size();
        }
    }

    private final Path dir;
    private final long blockBytes;
    private final Map<String, OpenFile> files = new HashMap<>();
    private final Map<String, BitSet> verified = new HashMap<>(); // file@offset -> checked blocks
    private long bytesCopied, bytesVerified;

    ShardReader(Path stepDir, long blockBytes) {
        if (blockBytes < 4 || blockBytes > WINDOW_BYTES) {
            throw new IllegalArgumentException(
                    "CRC block of " + blockBytes + " bytes must be in [4, " + WINDOW_BYTES + "]");
        }
        this.dir = stepDir;
        this.blockBytes = blockBytes;
    }

    @Override
    public long bytesCopied() {
        return bytesCopied;
    }

    @Override
    public long bytesVerified() {
        return bytesVerified;
    }

    /** Checks every CRC block of t. */
    void verifyAll(TensorShard t) throws IOException {
        long bytes = Region.of(t).bytes();
        verify(t, 0, bytes);
    }

    /** Copies elems floats starting at element srcElem of t's data to the native address dst. */
    @Override
    public void copy(TensorShard t, long srcElem, long dstAddress, long elems) throws IOException {
        long off = srcElem * Float.BYTES, len = elems * Float.BYTES;
        verify(t, off, len);
        OpenFile f = open(t.getFile());
        for (long done = 0; done < len; ) {
            long n = Math.min(len - done, WINDOW_BYTES / 2);
            ByteBuffer b = window(f, t.getByteOffset() + off + done, n);
            RawMemory.copy(dstAddress + done, RawMemory.address(b), n);
            done += n;
        }
        bytesCopied += len;
    }

    /** Checks the CRC blocks of t that hold its data bytes [off, off + len), each once. */
    private void verify(TensorShard t, long off, long len) throws IOException {
        if (len <= 0) return;
        long total = Region.of(t).bytes();
        BitSet done = verified.computeIfAbsent(t.getFile() + "@" + t.getByteOffset(), k -> new BitSet());
        OpenFile f = open(t.getFile());
        for (long k = off / blockBytes; k <= (off + len - 1) / blockBytes; k++) {
            if (done.get((int) k)) continue;
            long bs = k * blockBytes, be = Math.min(total, bs + blockBytes);
            ByteBuffer b = window(f, t.getByteOffset() + bs, be - bs);
            int got = CheckpointDir.crc(b, (int) (be - bs));
            if (got != t.getBlockCrc32C((int) k)) {
                throw new CheckpointException(dir.resolve(t.getFile()) + ": CRC32C mismatch in '" + t.getName() + "' ("
                        + t.getKind() + ") block " + k + " (file bytes " + (t.getByteOffset() + bs) + ".."
                        + (t.getByteOffset() + be) + "): corrupt");
            }
            done.set((int) k);
            bytesVerified += be - bs;
        }
    }

    private OpenFile open(String name) throws IOException {
        OpenFile f = files.get(name);
        if (f == null) {
            Path p = dir.resolve(name);
            try {
                f = new OpenFile(FileChannel.open(p, StandardOpenOption.READ));
            } catch (java.nio.file.NoSuchFileException e) {
                throw new CheckpointException(p + ": missing shard file");
            }
            files.put(name, f);
        }
        return f;
    }

    /** A buffer positioned at file byte `at` with len readable bytes (len <= WINDOW_BYTES / 2). */
    private ByteBuffer window(OpenFile f, long at, long len) throws IOException {
        if (at < 0 || at + len > f.size) {
            throw new CheckpointException(dir + ": read of bytes [" + at + ", " + (at + len) + ") past the end of a "
                    + f.size + "-byte shard file");
        }
        if (at < f.windowStart || at + len > f.windowEnd) {
            long start = at, end = Math.min(f.size, Math.max(at + len, start + WINDOW_BYTES));
            f.window = CheckpointDir.map(f.ch, start, end - start);
            f.windowStart = start;
            f.windowEnd = end;
        }
        ByteBuffer b = f.window.duplicate();
        b.position((int) (at - f.windowStart)).limit((int) (at - f.windowStart + len));
        return b.slice();
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (OpenFile f : files.values()) {
            try {
                f.ch.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        files.clear();
        if (first != null) throw first;
    }
}
