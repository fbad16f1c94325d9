// Writes one rank's shard file from its host snapshot, which is laid out byte for byte like the file:
// with O_DIRECT where the file system allows it (DIRECT_CHUNK writes straight from the snapshot, which
// must then be aligned to MAX_ALIGN, so no page-cache copy; the last partial file-system block through
// the buffered channel), else positional buffered writes of the CRC blocks; either way on WRITE_THREADS
// threads, each a contiguous part, taking each block's CRC32C from the snapshot just before writing it.
// Guarantees: both paths write the same bytes and return the same CRCs (block order); every helper
// thread is joined before a write returns, even when interrupted or aborted, so the snapshot is never
// freed under a writer; the caller fsyncs once.
package dev.shoal.runtime.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

final class ShardWriter {
    private final long base; // the snapshot's address
    private final List<long[]> blocks; // {file offset, length} of each CRC block, ascending
    private final BooleanSupplier aborted;
    private final String name;

    ShardWriter(long base, List<long[]> blocks, BooleanSupplier aborted, String name) {
        this.base = base;
        this.blocks = blocks;
        this.aborted = aborted;
        this.name = name;
    }

    /**
     * Threads that write (and CRC) one shard at once, each its own contiguous part:
     * -Dshoal.checkpoint.write-threads, default min(4, cores).
     */
    static final int WRITE_THREADS = Math.max(
            1,
            Integer.getInteger(
                    "shoal.checkpoint.write-threads",
                    Math.min(4, Runtime.getRuntime().availableProcessors())));

    /** Largest O_DIRECT alignment supported (the snapshot is aligned to it). */
    static final long MAX_ALIGN = 1 << 16;

    /** Bytes per O_DIRECT write (a multiple of the alignment). */
    static final int DIRECT_CHUNK = 4 << 20;

    /** -Dshoal.checkpoint.direct-io=false: buffered writes (read at every save). */
    static final String DIRECT_IO = "shoal.checkpoint.direct-io";

    /** Whether the last shard this JVM wrote went out with O_DIRECT (benchmarks say which path ran). */
    static volatile boolean lastWriteDirect;

    /** A second, O_DIRECT channel on the (created) shard file, or null where that is off or unsupported. */
    static FileChannel openDirect(Path file) {
        try {
            FileChannel ch =
                    FileChannel.open(file, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
            lastWriteDirect = true;
            return ch;
        } catch (IOException | UnsupportedOperationException e) {
            return null; // e.g. tmpfs: buffered writes
        }
    }

    /**
     * The O_DIRECT alignment of the file system holding dir (its block size, at least 512), or 0 when
     * O_DIRECT is off or that size does not suit it (then the writes are buffered).
     */
    static long directAlignment(Path dir) {
        lastWriteDirect = false;
        if ("false".equals(System.getProperty(DIRECT_IO))) return 0;
        try {
            long a = Math.max(512, Files.getFileStore(dir).getBlockSize());
            return Long.bitCount(a) == 1 && a <= MAX_ALIGN && DIRECT_CHUNK % a == 0 ? a : 0;
        } catch (IOException | UnsupportedOperationException e) {
            return 0;
        }
    }

    /**
     * O_DIRECT: the snapshot's [0, aligned end) goes out in DIRECT_CHUNK writes straight from memory
     * (no page-cache copy), each of the WRITE_THREADS threads a contiguous run of chunks, taking the
     * CRC32C of every block that starts in a chunk just before writing it; the last partial alignment
     * unit goes through the buffered channel. The caller fsyncs once. Returns the CRCs in block order;
     * every thread is joined before it returns, even when interrupted.
     */
    int[] writeDirect(FileChannel direct, FileChannel buffered, long bytes, long align) throws IOException {
        int nb = blocks.size();
        int[] crcs = new int[nb];
        long alignedEnd = bytes / align * align;
        long chunks = (alignedEnd + DIRECT_CHUNK - 1) / DIRECT_CHUNK;
        int k = (int) Math.max(1, Math.min(WRITE_THREADS, chunks));
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Runnable[] parts = new Runnable[k];
        for (int t = 0; t < k; t++) {
            long t0 = Math.min(alignedEnd, chunks * t / k * DIRECT_CHUNK);
            long t1 = Math.min(alignedEnd, chunks * (t + 1) / k * DIRECT_CHUNK);
            parts[t] = () -> {
                try {
                    int bi = firstBlockAtOrAfter(blocks, t0);
                    for (long c0 = t0; c0 < t1 && failed.get() == null && !aborted.getAsBoolean(); c0 += DIRECT_CHUNK) {
                        long c1 = Math.min(t1, c0 + DIRECT_CHUNK);
                        for (; bi < nb && blocks.get(bi)[0] < c1; bi++) {
                            int n = (int) blocks.get(bi)[1];
                            crcs[bi] = CheckpointDir.crc(RawMemory.buffer(base + blocks.get(bi)[0], n), n);
                        }
                        ByteBuffer b = RawMemory.buffer(base + c0, (int) (c1 - c0));
                        long pos = c0;
                        while (b.hasRemaining()) pos += direct.write(b, pos);
                    }
                } catch (Throwable e) {
                    failed.compareAndSet(null, e);
                }
            };
        }
        runJoined(parts, failed);
        // The tail: CRCs of the blocks that start past the aligned part, then its last < align bytes.
        for (int bi = firstBlockAtOrAfter(blocks, alignedEnd); bi < nb; bi++) {
            int n = (int) blocks.get(bi)[1];
            crcs[bi] = CheckpointDir.crc(RawMemory.buffer(base + blocks.get(bi)[0], n), n);
        }
        if (bytes > alignedEnd) {
            ByteBuffer b = RawMemory.buffer(base + alignedEnd, (int) (bytes - alignedEnd));
            long pos = alignedEnd;
            while (b.hasRemaining()) pos += buffered.write(b, pos);
        }
        return crcs;
    }

    /** The index of the first block whose offset is >= off (blocks ascend by offset). */
    private static int firstBlockAtOrAfter(List<long[]> blocks, long off) {
        int lo = 0, hi = blocks.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (blocks.get(mid)[0] < off) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /**
     * Runs parts[0] on this thread and the others on daemon helper threads, and joins them all even when
     * interrupted; returns whether this thread was interrupted meanwhile (the flag is cleared).
     */
    static boolean runAll(Runnable[] parts) {
        Thread[] helpers = new Thread[parts.length - 1];
        for (int t = 1; t < parts.length; t++) {
            helpers[t - 1] = new Thread(parts[t], Thread.currentThread().getName() + "-" + t);
            helpers[t - 1].setDaemon(true);
            helpers[t - 1].start();
        }
        parts[0].run();
        boolean interrupted = Thread.interrupted();
        for (Thread h : helpers) {
            while (true) {
                try {
                    h.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        return interrupted;
    }

    /**
     * Runs parts[0] here and the others on helper threads, joins them all even when interrupted, then
     * throws when this thread was interrupted or the save aborted, or rethrows the first part's failure.
     */
    private void runJoined(Runnable[] parts, AtomicReference<Throwable> failed) throws IOException {
        boolean interrupted = runAll(parts);
        if (interrupted || aborted.getAsBoolean()) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing " + name);
        }
        Throwable e = failed.get();
        if (e instanceof IOException io) throw io;
        if (e instanceof RuntimeException re) throw re;
        if (e != null) throw new IOException(name + ": " + e, e);
    }

    /**
     * Writes every CRC block of the shards with positional writes straight from the snapshot (no copy),
     * taking each block's CRC32C just before writing it (while it is in cache), on WRITE_THREADS
     * threads, each a contiguous run of blocks; the caller fsyncs once. Returns the CRCs in block order.
     * Every thread is joined before it returns, even when interrupted, so the snapshot is never freed
     * under a writer.
     */
    int[] writeBlocks(FileChannel ch) throws IOException {
        int nb = blocks.size(), k = Math.min(WRITE_THREADS, Math.max(1, nb));
        int[] crcs = new int[nb];
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Runnable[] parts = new Runnable[k];
        for (int t = 0; t < k; t++) {
            int from = (int) ((long) nb * t / k), to = (int) ((long) nb * (t + 1) / k);
            parts[t] = () -> {
                try {
                    for (int i = from; i < to && failed.get() == null && !aborted.getAsBoolean(); i++) {
                        long off = blocks.get(i)[0];
                        int n = (int) blocks.get(i)[1];
                        ByteBuffer b = RawMemory.buffer(base + off, n);
                        crcs[i] = CheckpointDir.crc(b, n);
                        long pos = off;
                        while (b.hasRemaining()) pos += ch.write(b, pos);
                    }
                } catch (Throwable e) {
                    failed.compareAndSet(null, e);
                }
            };
        }
        runJoined(parts, failed);
        return crcs;
    }
}
