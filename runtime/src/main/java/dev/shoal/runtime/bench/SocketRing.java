// The reference streams of the collective benchmark's TCP rows: a plain loopback socket ring, through a
// cached buffer (the limit), through buffers of the op's size, or doing the least memory work an op
// must do besides moving bytes (the floor); and how fast the cores copy buffers of a given size.
// Guarantees: every ring is timed from the first byte to the last rank's last byte, with the process CPU
// time over the same span; the sockets are set up as the TCP backend sets up its own.
package dev.shoal.runtime.bench;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.comm.HostMemory;
import dev.shoal.runtime.comm.Reduce;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.javacpp.BytePointer;

final class SocketRing {
    private SocketRing() {}

    private static final com.sun.management.OperatingSystemMXBean OS = (com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** A bare ring's per-rank bandwidth and the process CPU seconds it took. */
    record Ring(double gbps, double cpuSeconds) {}

    /**
     * What a bare ring does besides moving bytes. Each rank sends from and receives into one buffer of
     * bufBytes; the reader reduces addShare of the chunks it receives, in place, with the rank's own data
     * a quarter of the buffer away; the writer first copies copyShare of the chunks it sends from a quarter
     * of the buffer away, and sends hotShare of them from a second, cached, 256 KiB buffer instead.
     */
    record Work(long bufBytes, double addShare, double copyShare, double hotShare) {
        /** The limit: one 256 KiB buffer that stays in cache, nothing else. */
        static final Work HOT = new Work(RING_CHUNK, 0, 0, 0);

        /** The same ring through a buffer of the op's size. */
        static Work opSized(long opBytes) {
            return new Work(opBytes, 0, 0, 0);
        }

        /**
         * The least memory work an op does on top of the wire: a buffer as large as the op's working set
         * (so its data is as far from the core), the share of received bytes it reduces with its own
         * data, and the bytes it copies from input to output, for each byte sent; what the op forwards
         * goes out from cache. A lower bound on the op's work: one reduction pass (no AVG scaling),
         * forwarded data in this core's cache, nothing waits on anything.
         */
        static Work floor(CollectiveBench.Op op, int n, long opBytes) {
            return new Work(op.footprintBytes(n, opBytes), op.reducedShare(), op.copyShare(n), op.forwardShare(n));
        }
    }

    /**
     * GB/s that all cores together copy, each between two off-heap buffers of {@code bytes} (at least
     * 256 KiB), about 400 MiB per core (at least two passes) after one warm-up pass.
     */
    static double copyGBps(long bytes) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        long len = Math.max(RING_CHUNK, bytes);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CyclicBarrier start = new CyclicBarrier(threads);
        try {
            List<Future<double[]>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    try (BytePointer src = new BytePointer(len);
                            BytePointer dst = new BytePointer(len)) {
                        src.fill(1);
                        HostMemory.copy(dst.address(), src.address(), len);
                        int passes = (int) Math.max(2, (400L << 20) / len);
                        start.await();
                        long t0 = System.nanoTime();
                        for (int i = 0; i < passes; i++) HostMemory.copy(dst.address(), src.address(), len);
                        return new double[] {(double) len * passes, (System.nanoTime() - t0) / 1e9};
                    }
                }));
            }
            double copied = 0, seconds = 0;
            for (Future<double[]> f : fs) {
                double[] d = f.get();
                copied += d[0];
                seconds = Math.max(seconds, d[1]);
            }
            return copied / seconds / 1e9;
        } finally {
            pool.shutdown();
        }
    }

    /** Bytes per write and read of the bare ring. */
    static final int RING_CHUNK = 256 << 10;

    /**
     * Per-rank bandwidth of a plain loopback socket ring driven the faster of two ways (see ringSocket):
     * one writer and one reader thread per rank, or one thread per rank in lock-step. A reference must
     * run at its best, and which way is faster depends on the cores (the TCP backend itself runs lock-step).
     */
    static Ring best(int n, long bytesPerRank, Work work) throws Exception {
        Ring threaded = ringSocket(n, bytesPerRank, work, false);
        Ring lockStep = ringSocket(n, bytesPerRank, work, true);
        return threaded.gbps() >= lockStep.gbps() ? threaded : lockStep;
    }

    /**
     * Per-rank bandwidth of a plain loopback socket ring: rank i streams {@code bytesPerRank} to rank i+1
     * while it receives as much from rank i−1 (blocking SocketChannels with 4 MiB buffers and TCP_NODELAY,
     * 256 KiB writes from direct buffers, as the TCP backend does). Either one writer and one reader
     * thread per rank, or (lockStep) one thread per rank that writes a chunk, then reads a chunk (at most
     * n chunks unread on a connection, as in the backend's rings). The writer sends from and the reader
     * receives into one direct buffer of {@code work.bufBytes()} per rank, walking through it 256 KiB at
     * a time, half a buffer apart (256 KiB: one buffer that stays in cache, the fastest the wire goes),
     * and does the extra work that {@code work} names (see Work), with the bench's reduction. Timed from
     * the first byte to the last rank's last byte, with the process CPU time over the same span.
     */
    static Ring ringSocket(int n, long bytesPerRank, Work work, boolean lockStep) throws Exception {
        int chunk = RING_CHUNK;
        long bufLen = Math.max(chunk, work.bufBytes() / chunk * chunk);
        ServerSocketChannel[] servers = new ServerSocketChannel[n];
        SocketChannel[] out = new SocketChannel[n], in = new SocketChannel[n];
        for (int i = 0; i < n; i++) {
            servers[i] = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        }
        for (int i = 0; i < n; i++) {
            out[i] = SocketChannel.open(servers[(i + 1) % n].getLocalAddress()); // i → i+1
            in[(i + 1) % n] = servers[(i + 1) % n].accept();
        }
        for (int i = 0; i < n; i++) {
            for (SocketChannel ch : new SocketChannel[] {out[i], in[i]}) {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
                ch.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
            }
        }
        int threads = lockStep ? n : 2 * n;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        java.util.concurrent.atomic.AtomicLong first = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
        long[] cpu0 = new long[1];
        CyclicBarrier start = new CyclicBarrier(threads, () -> {
            cpu0[0] = OS.getProcessCpuTime();
            first.set(System.nanoTime());
        });
        try {
            List<Future<Long>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ByteBuffer mem = ByteBuffer.allocateDirect((int) bufLen); // this rank's data
                Writer w = new Writer(out[i], mem, bytesPerRank, work);
                Reader r = new Reader(in[i], mem, bytesPerRank, work);
                if (lockStep) {
                    fs.add(pool.submit(() -> {
                        start.await();
                        while (!w.done() || !r.done()) {
                            if (!w.done()) w.chunk();
                            if (!r.done()) r.chunk();
                        }
                        return System.nanoTime();
                    }));
                } else {
                    fs.add(pool.submit(() -> {
                        start.await();
                        while (!w.done()) w.chunk();
                        return System.nanoTime();
                    }));
                    fs.add(pool.submit(() -> {
                        start.await();
                        while (!r.done()) r.chunk();
                        return System.nanoTime();
                    }));
                }
            }
            long last = 0;
            for (Future<Long> f : fs) last = Math.max(last, f.get());
            double cpuSeconds = (OS.getProcessCpuTime() - cpu0[0]) / 1e9;
            return new Ring(bytesPerRank / ((last - first.get()) / 1e9) / 1e9, cpuSeconds);
        } finally {
            pool.shutdownNow();
            for (int i = 0; i < n; i++) {
                out[i].close();
                in[i].close();
                servers[i].close();
            }
        }
    }

    /** What a rank's sending and receiving sides share: its socket, its buffer and the ring's work. */
    private abstract static class Side {
        final SocketChannel ch;
        final ByteBuffer b;
        final long memAddress, bufLen, total;
        final long quarter; // the floor's copy source and cold operand: a quarter of the buffer away
        final Work work;

        Side(SocketChannel ch, ByteBuffer mem, long total, Work work) {
            this.ch = ch;
            this.b = mem.duplicate();
            this.memAddress = new BytePointer(mem).address();
            this.bufLen = mem.capacity();
            this.quarter = bufLen / 4 / RING_CHUNK * RING_CHUNK;
            this.total = total;
            this.work = work;
        }

        abstract boolean done();

        /** Moves the next 256 KiB chunk, with its share of the work. */
        abstract void chunk() throws java.io.IOException;
    }

    /**
     * A rank's sending side: one 256 KiB chunk at a time from its buffer, first staging copyShare of the
     * chunks from a quarter of the buffer away, or sending hotShare of them from a cached buffer instead.
     */
    private static final class Writer extends Side {
        private final ByteBuffer cached = ByteBuffer.allocateDirect(RING_CHUNK);
        private long sent, chunksStarted;
        private double copied, forwarded;

        Writer(SocketChannel ch, ByteBuffer mem, long total, Work work) {
            super(ch, mem, total, work);
        }

        @Override
        boolean done() {
            return sent >= total;
        }

        @Override
        void chunk() throws java.io.IOException {
            int at = (int) (sent % bufLen); // whole chunks: every write below finishes its chunk
            int len = (int) Math.min(Math.min(bufLen, at + RING_CHUNK), at + total - sent) - at;
            chunksStarted++;
            ByteBuffer src = b.limit(at + len).position(at);
            // Whichever share is behind: stage the chunk from elsewhere in the buffer first (allGather's
            // own chunk, copied into its output slot), or send it from cache (data the op forwards right
            // after receiving or reducing it).
            if (copied < work.copyShare() * chunksStarted - 1e-9) {
                HostMemory.copy(memAddress + at, memAddress + (at + quarter) % bufLen, len);
                copied++;
            } else if (forwarded < work.hotShare() * chunksStarted - 1e-9) {
                src = cached.duplicate().limit(len);
                forwarded++;
            }
            while (src.hasRemaining()) sent += ch.write(src);
        }
    }

    /**
     * A rank's receiving side: one 256 KiB chunk at a time into its buffer, half a buffer away from the
     * writer (as a collective receives into one chunk while it sends another), reducing addShare of the
     * chunks, in place, with the rank's own data a quarter of the buffer away.
     */
    private static final class Reader extends Side {
        private final long half;
        private long got, chunksDone;
        private double added;

        Reader(SocketChannel ch, ByteBuffer mem, long total, Work work) {
            super(ch, mem, total, work);
            this.half = bufLen / 2 / RING_CHUNK * RING_CHUNK;
        }

        @Override
        boolean done() {
            return got >= total;
        }

        @Override
        void chunk() throws java.io.IOException {
            int at = (int) ((got + half) % bufLen);
            b.limit((int) Math.min(Math.min(bufLen, at + RING_CHUNK), at + total - got))
                    .position(at);
            while (b.hasRemaining()) {
                int k = ch.read(b);
                if (k < 0) throw new java.io.IOException("ring peer closed early");
                got += k;
            }
            // A completed chunk: reduce it if the share of chunks reduced so far is behind.
            chunksDone++;
            if (work.addShare() > 0 && added < work.addShare() * chunksDone - 1e-9) {
                long got0 = memAddress + at; // received chunk (op)= own data from elsewhere
                long own = memAddress + (at + quarter) % bufLen;
                ReduceOp op = CollectiveBench.reduceOp == ReduceOp.MAX ? ReduceOp.MAX : ReduceOp.SUM;
                Reduce.combine(got0, got0, own, (b.position() - at) / 4, DType.F32, op);
                added++;
            }
        }
    }
}
