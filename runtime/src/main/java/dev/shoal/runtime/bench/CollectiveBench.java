// Collective benchmark in the style of nccl-tests, for the CPU backends.
//
// For each size: time per op, algbw = bytes / time, busbw = algbw · factor with the nccl-tests
// factors (allReduce 2(n−1)/n, reduceScatter and allGather (n−1)/n, broadcast 1), and a correctness
// column checked on every rank. Beside each backend it prints the limit it is measured against:
// System.arraycopy bandwidth for the in-JVM backend, a plain loopback socket stream for TCP.
//
// Usage: CollectiveBench [injvm|tcp|all] [ranks] [maxMiB]
package dev.shoal.runtime.bench;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.comm.TcpTransport;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
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

        double busFactor(int n) {
            return switch (this) {
                case ALL_REDUCE -> 2.0 * (n - 1) / n;
                case REDUCE_SCATTER, ALL_GATHER -> (double) (n - 1) / n;
                case BROADCAST -> 1.0;
            };
        }
    }

    record Row(Op op, long bytes, double seconds, double algbw, double busbw, boolean correct) {}

    public static void main(String[] args) throws Exception {
        String which = args.length > 0 ? args[0] : "all";
        int ranks = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        long maxBytes = (args.length > 2 ? Long.parseLong(args[2]) : 64) << 20;
        System.out.printf(
                Locale.ROOT,
                "# %d ranks, %d cores%n",
                ranks,
                Runtime.getRuntime().availableProcessors());
        if (which.equals("injvm") || which.equals("all")) {
            System.out.printf(Locale.ROOT, "# limit: System.arraycopy %.2f GB/s (64 MiB arrays)%n", arraycopyGBps());
            table("in-JVM", InJvmWorld.group(ranks, 1, 600_000), maxBytes);
        }
        if (which.equals("tcp") || which.equals("all")) {
            System.out.printf(
                    Locale.ROOT, "# limit: loopback socket stream %.2f GB/s (1 GiB, 1 MiB writes)%n", socketGBps());
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
            table("TCP", cs, maxBytes);
            ts.forEach(TcpTransport::close);
        }
    }

    static void table(String name, Communicator[] cs, long maxBytes) throws Exception {
        int n = cs.length;
        System.out.printf(Locale.ROOT, "%n## %s backend, %d ranks, float32%n", name, n);
        System.out.printf(
                Locale.ROOT,
                "%-15s %12s %12s %12s %12s %8s%n",
                "op",
                "size(B)",
                "time(us)",
                "algbw(GB/s)",
                "busbw(GB/s)",
                "correct");
        for (Op op : Op.values()) {
            for (long bytes = 1 << 10; bytes <= maxBytes; bytes <<= 2) {
                Row r = measure(cs, op, bytes);
                System.out.printf(
                        Locale.ROOT,
                        "%-15s %12d %12.1f %12.3f %12.3f %8s%n",
                        op,
                        r.bytes(),
                        r.seconds() * 1e6,
                        r.algbw(),
                        r.busbw(),
                        r.correct() ? "ok" : "WRONG");
            }
        }
        for (Communicator c : cs) c.close();
    }

    /** Times one op at one size over enough iterations for ~0.3 s, on every rank in parallel. */
    static Row measure(Communicator[] cs, Op op, long bytes) throws Exception {
        int n = cs.length;
        long elems = bytes / 4;
        long per = Math.max(1, elems / n);
        int iters = (int) Math.max(3, Math.min(1000, (300L << 20) / Math.max(bytes, 1)));
        AtomicBoolean correct = new AtomicBoolean(true);
        CyclicBarrier start = new CyclicBarrier(n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<Double>> fs = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            Communicator c = cs[r];
            fs.add(pool.submit(() -> {
                try (FloatPointer a = new FloatPointer(Math.max(elems, per * n));
                        FloatPointer b = new FloatPointer(Math.max(elems, per * n))) {
                    var av = a.asBuffer();
                    for (long i = 0; i < a.capacity(); i++) av.put((int) i, rank + 1);
                    run(c, op, a, b, elems, per); // warm-up and correctness
                    correct.compareAndSet(true, check(op, a, b, elems, per, n));
                    start.await();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) run(c, op, a, b, elems, per);
                    return (System.nanoTime() - t0) / 1e9 / iters;
                }
            }));
        }
        double worst = 0;
        for (Future<Double> f : fs) worst = Math.max(worst, f.get());
        pool.shutdown();
        long opBytes = op == Op.ALL_REDUCE || op == Op.BROADCAST ? elems * 4 : per * n * 4;
        double algbw = opBytes / worst / 1e9;
        return new Row(op, opBytes, worst, algbw, algbw * op.busFactor(n), correct.get());
    }

    static void run(Communicator c, Op op, FloatPointer a, FloatPointer b, long elems, long per) {
        switch (op) {
            case ALL_REDUCE -> c.allReduce(a, elems, DType.F32, ReduceOp.MAX);
            case REDUCE_SCATTER -> c.reduceScatter(a, b, per, DType.F32, ReduceOp.MAX);
            case ALL_GATHER -> c.allGather(a, b, per, DType.F32);
            case BROADCAST -> c.broadcast(a, elems, DType.F32, 0);
        }
    }

    /** Inputs are rank+1 everywhere; MAX keeps repeated runs idempotent. */
    static boolean check(Op op, FloatPointer a, FloatPointer b, long elems, long per, int n) {
        var av = a.asBuffer();
        var bv = b.asBuffer();
        return switch (op) {
            case ALL_REDUCE -> av.get(0) == n && av.get((int) (elems - 1)) == n;
            case REDUCE_SCATTER -> bv.get(0) == n && bv.get((int) (per - 1)) == n;
            case ALL_GATHER -> bv.get(0) == 1 && bv.get((int) (per * n - 1)) == n;
            case BROADCAST -> av.get(0) == 1 && av.get((int) (elems - 1)) == 1;
        };
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

    static double socketGBps() throws Exception {
        long total = 1L << 30;
        try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread writer = new Thread(() -> {
                try (Socket s = new Socket(java.net.InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                    OutputStream out = s.getOutputStream();
                    byte[] buf = new byte[1 << 20];
                    for (long sent = 0; sent < total; sent += buf.length) out.write(buf);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            writer.start();
            try (Socket s = server.accept()) {
                InputStream in = s.getInputStream();
                byte[] buf = new byte[1 << 20];
                long t0 = System.nanoTime();
                long got = 0;
                for (int k; got < total && (k = in.read(buf)) > 0; ) got += k;
                double sec = (System.nanoTime() - t0) / 1e9;
                writer.join();
                return got / sec / 1e9;
            }
        }
    }
}
