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
     * Per-rank bandwidth of a plain loopback socket ring: rank i streams {@code bytesPerRank} to rank i+1
     * while it receives as much from rank i−1 (one writer and one reader thread per rank, blocking
     * SocketChannels with 4 MiB buffers and TCP_NODELAY, 256 KiB writes from direct buffers, as the TCP
     * backend does). The writer sends from and the reader receives into one direct buffer of
     * {@code work.bufBytes()} per rank, walking through it 256 KiB at a time, half a buffer apart
     * (256 KiB: one buffer that stays in cache, the fastest the wire goes), and does the extra work that
     * {@code work} names (see Work), with the bench's reduction. Timed from the first byte to the last
     * rank's last byte, with the process CPU time over the same span.
     */
    static Ring ringSocket(int n, long bytesPerRank, Work work) throws Exception {
        int chunk = RING_CHUNK;
        long bufLen = Math.max(chunk, work.bufBytes() / chunk * chunk);
        double addShare = work.addShare(), copyShare = work.copyShare(), hotShare = work.hotShare();
        // The cold operand of the floor's add and the source of its copy: a quarter of the buffer away.
        long quarter = bufLen / 4 / chunk * chunk;
        // The reader works half a buffer away from the writer, as a collective receives into one chunk
        // while it sends another (else the writer would send what the reader has just put in cache).
        long half = bufLen / 2 / chunk * chunk;
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
        ExecutorService pool = Executors.newFixedThreadPool(2 * n);
        java.util.concurrent.atomic.AtomicLong first = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
        long[] cpu0 = new long[1];
        CyclicBarrier start = new CyclicBarrier(2 * n, () -> {
            cpu0[0] = OS.getProcessCpuTime();
            first.set(System.nanoTime());
        });
        try {
            List<Future<Long>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                SocketChannel w = out[i], r = in[i];
                ByteBuffer mem = ByteBuffer.allocateDirect((int) bufLen); // this rank's data
                ByteBuffer cached = ByteBuffer.allocateDirect(chunk); // what the floor forwards
                fs.add(pool.submit(() -> {
                    ByteBuffer b = mem.duplicate();
                    long memAddress = new org.bytedeco.javacpp.BytePointer(mem).address();
                    long chunksStarted = 0;
                    double copied = 0, forwarded = 0;
                    start.await();
                    for (long sent = 0; sent < bytesPerRank; ) {
                        int at = (int) (sent % bufLen); // whole chunks: every write below finishes its chunk
                        int len = (int) Math.min(Math.min(bufLen, at + chunk), at + bytesPerRank - sent) - at;
                        chunksStarted++;
                        ByteBuffer src = b.limit(at + len).position(at);
                        // Whichever share is behind: stage the chunk from elsewhere in the buffer first
                        // (allGather's own chunk, copied into its output slot), or send it from cache (data
                        // the op forwards right after receiving or reducing it).
                        if (copied < copyShare * chunksStarted - 1e-9) {
                            HostMemory.copy(memAddress + at, memAddress + (at + quarter) % bufLen, len);
                            copied++;
                        } else if (forwarded < hotShare * chunksStarted - 1e-9) {
                            src = cached.duplicate().limit(len);
                            forwarded++;
                        }
                        while (src.hasRemaining()) sent += w.write(src);
                    }
                    return System.nanoTime();
                }));
                fs.add(pool.submit(() -> {
                    ByteBuffer b = mem.duplicate();
                    long memAddress = new org.bytedeco.javacpp.BytePointer(mem).address();
                    long chunksDone = 0;
                    double added = 0;
                    start.await();
                    for (long got = 0; got < bytesPerRank; ) {
                        int at = (int) ((got + half) % bufLen);
                        b.limit((int) Math.min(Math.min(bufLen, at + chunk), at + bytesPerRank - got))
                                .position(at);
                        int k = r.read(b);
                        if (k < 0) throw new java.io.IOException("ring peer closed early");
                        got += k;
                        // Every completed chunk: reduce it if the share of chunks reduced so far is behind.
                        for (; addShare > 0 && chunksDone < got / chunk; chunksDone++) {
                            if (added < addShare * (chunksDone + 1) - 1e-9) {
                                long at0 = (chunksDone * chunk + half) % bufLen;
                                long got0 = memAddress + at0; // received chunk (op)= own data from elsewhere
                                long own = memAddress + (at0 + quarter) % bufLen;
                                Reduce.combine(
                                        got0,
                                        got0,
                                        own,
                                        chunk / 4,
                                        DType.F32,
                                        CollectiveBench.reduceOp == ReduceOp.MAX ? ReduceOp.MAX : ReduceOp.SUM);
                                added++;
                            }
                        }
                    }
                    return System.nanoTime();
                }));
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
}
