// Collective benchmark in the style of nccl-tests, for the CPU backends.
//
// For each size, timed after as many untimed calls as it times (the JIT's warm-up): time per op,
// algbw = bytes / time, busbw = algbw · factor with the nccl-tests factors (allReduce 2(n−1)/n,
// reduceScatter and allGather (n−1)/n, broadcast 1), a correctness column checked on every rank, and a
// ratio to the limit each backend is measured against, measured so that a machine whose speed drifts
// moves both numbers alike:
//   in-JVM: algbw / System.arraycopy bandwidth, measured right after the row (an n-rank in-memory
//           allReduce moves about one copy of the buffer per rank: read S, write S, with the ranks' work
//           running in parallel);
//   TCP:    busbw / a plain loopback socket ring in which every rank streams to the next and receives
//           from the previous at once, through direct buffers in 256 KiB writes, driven the faster of two
//           ways: a writer and a reader thread per rank, or one thread per rank in lock-step (write a
//           chunk, read a chunk, as the TCP backend runs its rings); every reference ring below is the
//           faster of the two as well (SocketRing.best), so each runs at its best. A row's timed calls run
//           in three blocks; after each block, while the ranks wait, the ring moves the same bytes per
//           rank as the block's calls (busFactor · S · calls). lim is the median of the three limits and
//           bus/lim the median of the three blocks' busbw over the limit measured right after each.
//           busbw is by definition the bytes a rank sends per second, so 1.0 would be the wire with
//           nothing else to do.
//           TCP rows also print a second reference, "ring/op": the same ring streaming out of and into one
//           buffer of the op's size per rank (the op's data is not in cache either) instead of one 256 KiB
//           buffer that stays in L2; bus/ring = busbw over it. It is context, not the goal's limit.
//           TCP rows also print "floor/lim", measured after each block with the limit: the ring through
//           one buffer as large as the op's working set (allReduce S; reduceScatter and allGather input
//           plus output, S + S/n), also doing the least memory work the op must do besides moving bytes,
//           with nothing waiting on anything: the reader adds its own data (from elsewhere in the buffer)
//           into the share of received bytes the op reduces (allReduce half, reduceScatter all),
//           allGather's writer first copies its own chunk (1/(n−1) of what it sends) from elsewhere in the
//           buffer, and what a ring forwards right after receiving or reducing it (all frames but a rank's
//           first) goes out from a cached buffer. One reduction pass, no AVG scaling, no waits: less than
//           any real implementation does (SocketRing.Work.floor).
//           On a machine whose wire is its own cores (loopback) that work takes the wire's CPU, so
//           floor/lim bounds what bus/lim can reach there; bus/floor = busbw over it.
//           TCP rows also print "copy": the GB/s all cores copy at once, each between two buffers of the
//           op's size, i.e. how fast the memory is that the op reads its input from and writes its output
//           to. The bare ring's one 256 KiB buffer never leaves the core's cache; once the op's buffers
//           outgrow the caches this figure drops 3–5×, and on a machine whose wire is its own cores
//           (loopback) the share of the wire an op that reads and writes its buffers can reach drops too.
//           TCP rows also print "cpu r/o": the process CPU time (all threads, kernel time included) the
//           bare ring spends per byte over the CPU time the op spends per byte sent. On a loaded machine
//           the wall-clock ratio mostly measures the scheduler; this one says how much work the op adds
//           to the wire (1.0 = none), and on an idle 2-core box it bounds the wall-clock ratio.
//
// allReduce and reduceScatter reduce with AVG by default, the op data-parallel training averages its
// gradients with (SUM costs the same; after the first call every rank holds the same values, which AVG
// leaves unchanged, so repeated runs stay checkable). MAX, the op of earlier runs of this benchmark, runs
// a plain Java loop instead of OpenBLAS and is kept as an option for comparison.
//
// Usage: CollectiveBench [injvm|tcp|all] [ranks] [maxMiB] [avg|max] [ops, e.g. all_reduce,all_gather] [minKiB]
//        [MiB per row: the bytes the timed iterations of one row move, 300 by default; more steadies a loaded box]
package dev.shoal.runtime.bench;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.bench.SocketRing.Ring;
import dev.shoal.runtime.bench.SocketRing.Work;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.comm.TcpTransport;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bytedeco.javacpp.FloatPointer;

public final class CollectiveBench {
    private CollectiveBench() {}

    enum Op {
        ALL_REDUCE,
        REDUCE_SCATTER,
        ALL_GATHER,
        BROADCAST;

        /** Share of the bytes a rank receives that a ring implementation of the op reduces. */
        double reducedShare() {
            return switch (this) {
                case ALL_REDUCE -> 0.5;
                case REDUCE_SCATTER -> 1.0;
                case ALL_GATHER, BROADCAST -> 0.0;
            };
        }

        /**
         * Bytes a rank copies from its input into its output per byte it sends: an out-of-place allGather
         * puts its own chunk (1/n of the output) in place while it sends (n−1)/n.
         */
        double copyShare(int n) {
            return this == ALL_GATHER ? 1.0 / (n - 1) : 0.0;
        }

        /**
         * Share of the bytes a rank sends that a ring implementation forwards right after receiving or
         * reducing them (every frame but the rank's first: its own input chunk).
         */
        double forwardShare(int n) {
            return switch (this) {
                case ALL_REDUCE -> (2.0 * n - 3) / (2.0 * (n - 1));
                case REDUCE_SCATTER, ALL_GATHER -> (n - 2.0) / (n - 1);
                case BROADCAST -> 0.0;
            };
        }

        /**
         * Bytes of memory one call of size opBytes reads or writes on a rank (its working set): one
         * buffer in place (allReduce, broadcast); the input and the output (reduceScatter S + S/n,
         * allGather S/n + S, as the bench calls them).
         */
        long footprintBytes(int n, long opBytes) {
            return switch (this) {
                case ALL_REDUCE, BROADCAST -> opBytes;
                case REDUCE_SCATTER, ALL_GATHER -> opBytes + opBytes / n;
            };
        }

        double busFactor(int n) {
            return switch (this) {
                case ALL_REDUCE -> 2.0 * (n - 1) / n;
                case REDUCE_SCATTER, ALL_GATHER -> (double) (n - 1) / n;
                case BROADCAST -> 1.0;
            };
        }
    }

    /**
     * One row: seconds per call over all blocks; per block, busbw and (bus rows) the limit and the floor
     * measured right after it, for blockBusBytes per rank.
     */
    record Row(
            Op op,
            long bytes,
            int iters,
            double seconds,
            double algbw,
            double busbw,
            boolean correct,
            double cpuSeconds,
            double[] blockBusbw,
            Ring[] limits,
            Ring[] floors,
            long blockBusBytes) {

        /** The median over the blocks of a figure of block k. */
        private double overBlocks(java.util.function.IntToDoubleFunction block) {
            double[] q = new double[limits.length];
            for (int k = 0; k < q.length; k++) q[k] = block.applyAsDouble(k);
            return median(q);
        }

        /** The median over blocks of the limit's GB/s. */
        double limitGBps() {
            return overBlocks(k -> limits[k].gbps());
        }

        /** The median over blocks of the block's busbw over the limit measured right after it. */
        double busOverLimit() {
            return overBlocks(k -> blockBusbw[k] / limits[k].gbps());
        }

        /** The median over blocks of the floor over the limit, each measured right after the block. */
        double floorOverLimit() {
            return overBlocks(k -> floors[k].gbps() / limits[k].gbps());
        }

        /** The median over blocks of the block's busbw over the floor measured right after it. */
        double busOverFloor() {
            return overBlocks(k -> blockBusbw[k] / floors[k].gbps());
        }

        /** The limit's CPU seconds per byte each rank sent, over all blocks. */
        double limitCpuPerByte() {
            double cpu = 0;
            for (Ring l : limits) cpu += l.cpuSeconds();
            return cpu / ((double) blockBusBytes * limits.length);
        }
    }

    static double median(double[] xs) {
        double[] c = xs.clone();
        java.util.Arrays.sort(c);
        int m = c.length / 2;
        return c.length % 2 == 1 ? c[m] : (c[m - 1] + c[m]) / 2;
    }

    private static final com.sun.management.OperatingSystemMXBean OS = (com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) throws Exception {
        String which = args.length > 0 ? args[0] : "all";
        int ranks = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        long maxBytes = (args.length > 2 ? Long.parseLong(args[2]) : 64) << 20;
        if (args.length > 3) {
            switch (args[3]) {
                case "avg" -> reduceOp = ReduceOp.AVG;
                case "max" -> reduceOp = ReduceOp.MAX;
                default -> {
                    System.err.println("unknown reduction '" + args[3] + "': use avg or max");
                    System.exit(2);
                }
            }
        }
        if (args.length > 4) {
            List<Op> chosen = new ArrayList<>();
            for (String o : args[4].split(",")) {
                try {
                    chosen.add(Op.valueOf(o.trim().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    System.err.println("unknown op '" + o + "': use all_reduce, reduce_scatter, all_gather, broadcast");
                    System.exit(2);
                }
            }
            ops = chosen;
        }
        if (args.length > 5) minBytes = Long.parseLong(args[5]) << 10;
        if (args.length > 6) rowBytes = Long.parseLong(args[6]) << 20;
        System.out.printf(Locale.ROOT, "# allReduce / reduceScatter reduce with %s%n", reduceOp);
        System.out.printf(
                Locale.ROOT,
                "# %d ranks, %d cores%n",
                ranks,
                Runtime.getRuntime().availableProcessors());
        if (which.equals("injvm") || which.equals("all")) {
            System.out.println("# limit: System.arraycopy of 64 MiB arrays, measured right after each row");
            table("in-JVM", InJvmWorld.group(ranks, 1, 600_000), maxBytes, false);
        }
        if (which.equals("tcp") || which.equals("all")) {
            System.out.println("# limit: a plain loopback socket ring in which every rank sends to the next while"
                    + " receiving (the faster of two threads per rank and one in lock-step),"
                    + " measured after each of a row's " + BLOCKS + " timed blocks for the same bytes"
                    + " per rank (busFactor · size · calls); lim and bus/lim are medians over the blocks");
            List<TcpTransport> ts = new ArrayList<>();
            for (int i = 0; i < ranks; i++) ts.add(TcpTransport.bind(new InetSocketAddress("127.0.0.1", 0)));
            List<InetSocketAddress> addrs =
                    ts.stream().map(TcpTransport::address).toList();
            ExecutorService pool = Executors.newFixedThreadPool(ranks);
            List<Future<Communicator>> fs = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                fs.add(pool.submit(() -> ts.get(rank).group("bench", 1, addrs, rank, 30_000, 600_000)));
            }
            Communicator[] cs = new Communicator[ranks];
            for (int r = 0; r < ranks; r++) cs[r] = fs.get(r).get();
            pool.shutdown();
            System.out.println("# TCP rings: " + TcpTransport.ringMode());
            table("TCP", cs, maxBytes, true);
            ts.forEach(TcpTransport::close);
        }
    }

    static void table(String name, Communicator[] cs, long maxBytes, boolean bus) throws Exception {
        int n = cs.length;
        System.out.printf(Locale.ROOT, "%n## %s backend, %d ranks, float32%n", name, n);
        System.out.printf(
                Locale.ROOT,
                "%-15s %12s %12s %12s %12s %8s %10s %8s%s%s%n",
                "op",
                "size(B)",
                "time(us)",
                "algbw(GB/s)",
                "busbw(GB/s)",
                "correct",
                "lim(GB/s)",
                bus ? "bus/lim" : "alg/lim",
                bus ? String.format(Locale.ROOT, " %8s", "cpu r/o") : "",
                bus
                        ? String.format(
                                Locale.ROOT,
                                " %10s %8s %9s %9s %10s",
                                "ring/op",
                                "bus/ring",
                                "floor/lim",
                                "bus/floor",
                                "copy(GB/s)")
                        : "");
        for (Op op : ops) {
            for (long bytes = minBytes; bytes <= maxBytes; bytes <<= 2) {
                long rowSize = bytes;
                LimitProbe refs = perRank -> new Ring[] {
                    SocketRing.best(n, perRank, Work.HOT), SocketRing.best(n, perRank, Work.floor(op, n, rowSize))
                };
                Row r = measure(cs, op, bytes, bus ? refs : null);
                long ringBytes = r.blockBusBytes();
                Ring opSized = bus ? SocketRing.best(n, ringBytes, Work.opSized(r.bytes())) : null;
                double limit = bus ? r.limitGBps() : arraycopyGBps();
                double ratio = bus ? r.busOverLimit() : r.algbw() / limit;
                // CPU per byte each rank sends: the op sends busFactor · bytes per rank per iteration.
                String cpu = "";
                if (bus) {
                    double opCpuPerByte = r.cpuSeconds() / (op.busFactor(n) * r.bytes() * r.iters());
                    double ringCpuPerByte = r.limitCpuPerByte();
                    // The process CPU clock ticks coarsely: a row too short to register on it prints "-".
                    cpu = opCpuPerByte > 0 && ringCpuPerByte > 0
                            ? String.format(Locale.ROOT, " %8.2f", ringCpuPerByte / opCpuPerByte)
                            : String.format(Locale.ROOT, " %8s", "-");
                    cpu += String.format(Locale.ROOT, " %10.2f %8.2f", opSized.gbps(), r.busbw() / opSized.gbps());
                    cpu += String.format(Locale.ROOT, " %9.2f %9.2f", r.floorOverLimit(), r.busOverFloor());
                    cpu += String.format(Locale.ROOT, " %10.2f", SocketRing.copyGBps(r.bytes()));
                }
                System.out.printf(
                        Locale.ROOT,
                        "%-15s %12d %12.1f %12.3f %12.3f %8s %10.2f %8.2f%s%n",
                        op,
                        r.bytes(),
                        r.seconds() * 1e6,
                        r.algbw(),
                        r.busbw(),
                        r.correct() ? "ok" : "WRONG",
                        limit,
                        ratio,
                        cpu);
            }
        }
        for (Communicator c : cs) c.close();
    }

    /** Blocks a row's timed calls are split into; a bus row measures its limit after each block. */
    static final int BLOCKS = 3;

    /** Measures the references for one block: the limit, then the floor, each moving {@code bytesPerRank}. */
    @FunctionalInterface
    interface LimitProbe {
        Ring[] measure(long bytesPerRank) throws Exception;
    }

    /**
     * Times one op at one size over {@code iters} iterations (rowBytes of data, in BLOCKS blocks), after
     * as many untimed ones, on every rank in parallel. With a probe, the limit is measured between the
     * blocks, right after each one while the ranks wait, so that a machine whose speed drifts moves the op
     * and its limit alike; the op's CPU time leaves out the probes'.
     */
    static Row measure(Communicator[] cs, Op op, long bytes, LimitProbe probe) throws Exception {
        int n = cs.length;
        long elems = bytes / 4;
        long per = Math.max(1, elems / n);
        int blockIters =
                (int) Math.max(1, Math.min(Math.max(1000, rowBytes >> 20), rowBytes / Math.max(bytes, 1)) / BLOCKS);
        int iters = blockIters * BLOCKS;
        long opBytes = op == Op.ALL_REDUCE || op == Op.BROADCAST ? elems * 4 : per * n * 4;
        long blockBusBytes = (long) Math.max(1 << 20, op.busFactor(n) * opBytes * blockIters);
        AtomicBoolean correct = new AtomicBoolean(true);
        Ring[] limits = new Ring[BLOCKS], floors = new Ring[BLOCKS];
        long[] cpu = new long[2]; // [CPU ns of the op's blocks, process CPU when the current block started]
        int[] passed = new int[1];
        CyclicBarrier block = new CyclicBarrier(n, () -> {
            long now = OS.getProcessCpuTime();
            if (passed[0] > 0) {
                cpu[0] += now - cpu[1];
                if (probe != null) {
                    try {
                        Ring[] refs = probe.measure(blockBusBytes);
                        limits[passed[0] - 1] = refs[0];
                        floors[passed[0] - 1] = refs[1];
                    } catch (Exception e) {
                        throw new IllegalStateException("measuring the limit and the floor failed", e);
                    }
                }
            }
            passed[0]++;
            cpu[1] = OS.getProcessCpuTime();
        });
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<double[]>> fs = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            Communicator c = cs[r];
            fs.add(pool.submit(() -> {
                try (FloatPointer a = new FloatPointer(Math.max(elems, per * n));
                        FloatPointer b = new FloatPointer(Math.max(elems, per * n))) {
                    var av = a.asBuffer();
                    for (long i = 0; i < a.capacity(); i++) av.put((int) i, rank + 1);
                    run(c, op, a, b, elems, per); // correctness
                    correct.compareAndSet(true, check(op, a, b, elems, per, n));
                    // Warm-up: as many untimed calls as timed ones, so that the op's Java code is compiled
                    // (C2 compiles a method after thousands of calls: the first 1–2 s of 1 MiB calls run
                    // about half as fast) and a training loop's steady state is what gets timed.
                    for (int i = 1; i < iters; i++) run(c, op, a, b, elems, per);
                    double[] seconds = new double[BLOCKS];
                    for (int k = 0; k < BLOCKS; k++) {
                        block.await();
                        long t0 = System.nanoTime();
                        for (int i = 0; i < blockIters; i++) run(c, op, a, b, elems, per);
                        seconds[k] = (System.nanoTime() - t0) / 1e9;
                    }
                    block.await(); // the last block's limit
                    return seconds;
                }
            }));
        }
        double[] worst = new double[BLOCKS]; // each block's time: its slowest rank
        for (Future<double[]> f : fs) {
            double[] sec = f.get();
            for (int k = 0; k < BLOCKS; k++) worst[k] = Math.max(worst[k], sec[k]);
        }
        pool.shutdown();
        double total = 0;
        for (double w : worst) total += w;
        double algbw = opBytes * (double) iters / total / 1e9;
        double[] blockBusbw = new double[BLOCKS];
        for (int k = 0; k < BLOCKS; k++) blockBusbw[k] = opBytes * op.busFactor(n) * blockIters / worst[k] / 1e9;
        return new Row(
                op,
                opBytes,
                iters,
                total / iters,
                algbw,
                algbw * op.busFactor(n),
                correct.get(),
                cpu[0] / 1e9,
                blockBusbw,
                probe == null ? null : limits,
                probe == null ? null : floors,
                blockBusBytes);
    }

    /** The ops to measure (all by default) and the smallest size (1 KiB by default; sizes grow 4× per row). */
    static List<Op> ops = List.of(Op.values());

    static long minBytes = 1 << 10;

    /** Bytes the timed iterations of one row move (at least 3 iterations, at most max(1000, MiB) of them). */
    static long rowBytes = 300L << 20;

    /** The reduction of allReduce and reduceScatter rows (avg or max on the command line). */
    static ReduceOp reduceOp = ReduceOp.AVG;

    static void run(Communicator c, Op op, FloatPointer a, FloatPointer b, long elems, long per) {
        switch (op) {
            case ALL_REDUCE -> c.allReduce(a, elems, DType.F32, reduceOp);
            case REDUCE_SCATTER -> c.reduceScatter(a, b, per, DType.F32, reduceOp);
            case ALL_GATHER -> c.allGather(a, b, per, DType.F32);
            case BROADCAST -> c.broadcast(a, elems, DType.F32, 0);
        }
    }

    /** Inputs are rank+1 everywhere: MAX gives n, AVG (n+1)/2 (rounded once by 1/n, so within 1e-6). */
    static boolean check(Op op, FloatPointer a, FloatPointer b, long elems, long per, int n) {
        var av = a.asBuffer();
        var bv = b.asBuffer();
        float want = reduceOp == ReduceOp.MAX ? n : (n + 1) / 2f;
        return switch (op) {
            case ALL_REDUCE -> near(av.get(0), want) && near(av.get((int) (elems - 1)), want);
            case REDUCE_SCATTER -> near(bv.get(0), want) && near(bv.get((int) (per - 1)), want);
            case ALL_GATHER -> bv.get(0) == 1 && bv.get((int) (per * n - 1)) == n;
            case BROADCAST -> av.get(0) == 1 && av.get((int) (elems - 1)) == 1;
        };
    }

    private static boolean near(float got, float want) {
        return Math.abs(got - want) <= 1e-6f * want;
    }

    static double arraycopyGBps() {
        byte[] a = new byte[64 << 20], b = new byte[64 << 20];
        for (int i = 0; i < 3; i++) System.arraycopy(a, 0, b, 0, a.length);
        long t0 = System.nanoTime();
        int iters = 20;
        for (int i = 0; i < iters; i++) System.arraycopy(a, 0, b, 0, a.length);
        double s = (System.nanoTime() - t0) / 1e9;
        return (double) a.length * iters / s / 1e9;
    }
}
