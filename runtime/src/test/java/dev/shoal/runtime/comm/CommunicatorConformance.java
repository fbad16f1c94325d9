// The conformance suite every Communicator backend runs: every op, odd sizes, 1 to 8 ranks,
// several groups at once, abort unblocking a rank that waits for a dead peer, and timeouts.
package dev.shoal.runtime.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.shoal.comm.CommException;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.tensor.FloatFormats;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

abstract class CommunicatorConformance {

    /** Creates the communicators of one group of n ranks (index = rank), possibly in parallel. */
    abstract Communicator[] group(String name, int n, long timeoutMillis) throws Exception;

    interface RankBody {
        void run(int rank, Communicator c) throws Exception;
    }

    /** Runs body on every rank in its own thread; rethrows the first failure. */
    static void onRanks(Communicator[] comms, RankBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(comms.length);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int r = 0; r < comms.length; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    body.run(rank, comms[rank]);
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
    }

    static void closeAll(Communicator[] cs) {
        for (Communicator c : cs) c.close();
    }

    /** Small integers, so sums over 8 ranks are exact in F32 and BF16 alike. */
    static float value(int rank, long i) {
        return (rank + 1) * ((i % 7) + 1);
    }

    static BytePointer buffer(DType dt, long elems) {
        return new BytePointer(Math.max(1, dt.bytesFor(elems)));
    }

    static void put(BytePointer p, DType dt, long i, float v) {
        if (dt == DType.F32) p.putFloat(i * 4, v);
        else p.putShort(i * 2, dt == DType.BF16 ? FloatFormats.f32ToBf16(v) : FloatFormats.f32ToF16(v));
    }

    static float get(BytePointer p, DType dt, long i) {
        if (dt == DType.F32) return p.getFloat(i * 4);
        short s = p.getShort(i * 2);
        return dt == DType.BF16 ? FloatFormats.bf16ToF32(s) : FloatFormats.f16ToF32(s);
    }

    static float expectReduce(ReduceOp op, int n, long i) {
        float sum = 0, max = Float.NEGATIVE_INFINITY;
        for (int r = 0; r < n; r++) {
            sum += value(r, i);
            max = Math.max(max, value(r, i));
        }
        return switch (op) {
            case SUM -> sum;
            case AVG -> sum / n;
            case MAX -> max;
        };
    }

    /**
     * Fills {@code b} with this rank's values, allReduces {@code elems} floats with {@code op} and checks
     * every element: SUM and MAX of these small integers are exact, AVG is within 1e-6 relative.
     */
    static void allReduceChecked(Communicator c, int rank, int n, BytePointer b, long elems, ReduceOp op, String what) {
        for (long i = 0; i < elems; i++) put(b, DType.F32, i, value(rank, i));
        c.allReduce(b, elems, DType.F32, op);
        for (long i = 0; i < elems; i++) {
            float want = expectReduce(op, n, i), got = get(b, DType.F32, i);
            if (Math.abs(got - want) > (op == ReduceOp.AVG ? 1e-6f * Math.abs(want) : 0f)) {
                fail("rank " + rank + " " + what + " " + op + " [" + i + "]: got " + got + " want " + want);
            }
        }
    }

    /**
     * reduceScatter (SUM) of {@code per} floats per rank, then allGather of a rank-tagged chunk, both
     * checked on this rank (large {@code per}: many pipeline segments, odd chunk sizes).
     */
    static void reduceScatterThenAllGather(Communicator c, int rank, int n, long per) {
        try (BytePointer send = buffer(DType.F32, per * n);
                BytePointer recv = buffer(DType.F32, per);
                BytePointer all = buffer(DType.F32, per * n)) {
            for (long i = 0; i < per * n; i++) put(send, DType.F32, i, value(rank, i));
            c.reduceScatter(send, recv, per, DType.F32, ReduceOp.SUM);
            for (long i = 0; i < per; i++) {
                assertEquals(expectReduce(ReduceOp.SUM, n, rank * per + i), get(recv, DType.F32, i));
            }
            for (long i = 0; i < per; i++) put(recv, DType.F32, i, rank * 1_000_000 + (i % 1000));
            c.allGather(recv, all, per, DType.F32);
            for (int r = 0; r < n; r++) {
                for (long i = 0; i < per; i += 37) {
                    assertEquals(r * 1_000_000 + (i % 1000), get(all, DType.F32, r * per + i));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5, 8})
    void allReduceEveryOpAndDtypeOnOddSizes(int n) throws Exception {
        Communicator[] cs = group("ar" + n, n, 20_000);
        try {
            onRanks(cs, (rank, c) -> {
                for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                    for (ReduceOp op : ReduceOp.values()) {
                        for (long elems : new long[] {1, 7, 1001, 65_537}) {
                            BytePointer b = buffer(dt, elems);
                            for (long i = 0; i < elems; i++) put(b, dt, i, value(rank, i));
                            c.allReduce(b, elems, dt, op);
                            for (long i = 0; i < elems; i++) {
                                float want = expectReduce(op, n, i);
                                float tol = dt == DType.F32 ? 1e-6f * Math.abs(want) : 0.01f * Math.abs(want);
                                float got = get(b, dt, i);
                                if (Math.abs(got - want) > tol) {
                                    fail("rank " + rank + " " + op + " " + dt + " elems " + elems + " [" + i + "]: got "
                                            + got + " want " + want);
                                }
                            }
                            b.close();
                        }
                    }
                }
            });
        } finally {
            closeAll(cs);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 7})
    void reduceScatterAllGatherBroadcast(int n) throws Exception {
        Communicator[] cs = group("rs" + n, n, 20_000);
        try {
            onRanks(cs, (rank, c) -> {
                long per = 1013; // odd chunk size
                DType dt = DType.F32;
                BytePointer send = buffer(dt, per * n), recv = buffer(dt, per);
                for (long i = 0; i < per * n; i++) put(send, dt, i, value(rank, i));
                c.reduceScatter(send, recv, per, dt, ReduceOp.SUM);
                for (long i = 0; i < per; i++)
                    assertEquals(expectReduce(ReduceOp.SUM, n, rank * per + i), get(recv, dt, i));
                // send is untouched
                for (long i = 0; i < per * n; i++) assertEquals(value(rank, i), get(send, dt, i));

                BytePointer all = buffer(dt, per * n);
                for (long i = 0; i < per; i++) put(recv, dt, i, rank * 10_000 + i);
                c.allGather(recv, all, per, dt);
                for (int r = 0; r < n; r++)
                    for (long i = 0; i < per; i++) assertEquals(r * 10_000 + i, get(all, dt, r * per + i));
                // In place: the input is this rank's own slot of the output (NCCL's in-place layout).
                BytePointer inPlace = buffer(dt, per * n);
                for (long i = 0; i < per * n; i++) put(inPlace, dt, i, -1);
                for (long i = 0; i < per; i++) put(inPlace, dt, rank * per + i, rank * 10_000 + i);
                c.allGather(new BytePointer(inPlace).position(dt.bytesFor(rank * per)), inPlace, per, dt);
                for (int r = 0; r < n; r++)
                    for (long i = 0; i < per; i++)
                        assertEquals(r * 10_000 + i, get(inPlace, dt, r * per + i), "in-place allGather");

                for (int root = 0; root < n; root++) {
                    BytePointer b = buffer(DType.BF16, 333);
                    for (long i = 0; i < 333; i++) put(b, DType.BF16, i, rank == root ? i % 50 : -1);
                    c.broadcast(b, 333, DType.BF16, root);
                    for (long i = 0; i < 333; i++) assertEquals(i % 50, get(b, DType.BF16, i));
                }
                c.barrier();
            });
        } finally {
            closeAll(cs);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void largeBuffersSpanManyPipelineSegments(int n) throws Exception {
        // 12 MB per op: larger than the socket buffers, cut into many lock-step pieces on TCP, and into
        // many 256 KiB reduction segments, with an odd element count so chunks differ in size; AVG
        // exercises the finishing step mid-ring.
        Communicator[] cs = group("large" + n, n, 30_000);
        try {
            onRanks(cs, (rank, c) -> {
                long elems = 3_000_007;
                for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.AVG}) {
                    BytePointer b = buffer(DType.F32, elems);
                    allReduceChecked(c, rank, n, b, elems, op, "12 MB");
                    b.close();
                }
                reduceScatterThenAllGather(c, rank, n, 1_000_003);
            });
        } finally {
            closeAll(cs);
        }
    }

    @Test
    void sendRecvAlongAPipelineBothWays() throws Exception {
        int n = 4;
        Communicator[] cs = group("p2p", n, 20_000);
        try {
            onRanks(cs, (rank, c) -> {
                long elems = 300_001; // larger than socket buffers: exposes send/recv deadlocks
                BytePointer out = buffer(DType.F32, elems), in = buffer(DType.F32, elems);
                for (long i = 0; i < elems; i++) put(out, DType.F32, i, rank + i);
                // Every rank sends forward and backward first, then receives: must not deadlock.
                if (rank + 1 < n) c.send(out, elems, DType.F32, rank + 1);
                if (rank > 0) c.send(out, elems, DType.F32, rank - 1);
                if (rank > 0) {
                    c.recv(in, elems, DType.F32, rank - 1);
                    for (long i = 0; i < elems; i += 997) assertEquals(rank - 1 + i, get(in, DType.F32, i), 1e-3);
                }
                if (rank + 1 < n) {
                    c.recv(in, elems, DType.F32, rank + 1);
                    for (long i = 0; i < elems; i += 997) assertEquals(rank + 1 + i, get(in, DType.F32, i), 1e-3);
                }
                c.synchronize();
            });
        } finally {
            closeAll(cs);
        }
    }

    @Test
    void collectivesRightAfterAnAsynchronousSendKeepTheFramesInOrder() throws Exception {
        // A send may still be on its way when the next collective starts on the same connections: the
        // collective's frames must follow it, whether the collective is small or large.
        int n = 3;
        Communicator[] cs = group("afterSend", n, 20_000);
        try {
            onRanks(cs, (rank, c) -> {
                int next = (rank + 1) % n, prev = (rank + n - 1) % n;
                for (int round = 0; round < 4; round++) {
                    long p2pElems = round % 2 == 0 ? 5 : 300_001;
                    BytePointer out = buffer(DType.F32, p2pElems), in = buffer(DType.F32, p2pElems);
                    for (long i = 0; i < p2pElems; i += 1000) put(out, DType.F32, i, rank * 10 + round);
                    c.send(out, p2pElems, DType.F32, next);
                    c.recv(in, p2pElems, DType.F32, prev);
                    assertEquals(prev * 10 + round, get(in, DType.F32, 0));
                    for (long elems : new long[] {7, 65_537, 1_000_003}) {
                        BytePointer b = buffer(DType.F32, elems);
                        for (long i = 0; i < elems; i++) put(b, DType.F32, i, value(rank, i));
                        c.allReduce(b, elems, DType.F32, ReduceOp.SUM);
                        for (long i = 0; i < elems; i += 4999) {
                            float want = expectReduce(ReduceOp.SUM, n, i);
                            assertEquals(
                                    want,
                                    get(b, DType.F32, i),
                                    1e-6f * Math.abs(want),
                                    "elems " + elems + " [" + i + "]");
                        }
                        b.close();
                    }
                    out.close();
                    in.close();
                }
            });
        } finally {
            closeAll(cs);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 8})
    void ringsAtTheOnePieceLimitBackToBackWithSkew(int n) throws Exception {
        // allReduces just under 4 MiB (on TCP, n frames of 4/n MiB: the most a ring leaves unread on a
        // connection, so each frame goes in one piece up to 3 ranks and in two on 8) back to back, one rank
        // late now and then, and every fourth round a 12 MB allReduce (many pieces per frame) in between:
        // a ring that could wait on a cycle of full socket buffers would hang here until the timeout.
        Communicator[] cs = group("onePiece" + n, n, 30_000);
        try {
            onRanks(cs, (rank, c) -> {
                long small = (1 << 20) - 3, largeElems = 3_000_007;
                BytePointer a = buffer(DType.F32, small), b = buffer(DType.F32, largeElems);
                for (int round = 0; round < 12; round++) {
                    if (rank == round % n && round % 3 == 0) Thread.sleep(20);
                    boolean large = round % 4 == 3;
                    allReduceChecked(
                            c, rank, n, large ? b : a, large ? largeElems : small, ReduceOp.SUM, "round " + round);
                }
                a.close();
                b.close();
            });
        } finally {
            closeAll(cs);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void largeCollectivesBehindAQueuedSendOnOneRank(int n) throws Exception {
        // Rank 0 sends 48 MB (more than a loopback socket holds, ~16 MB here) to rank 1 and goes straight
        // on to the collectives, so its ring waits behind the send while rank 1 first receives it, and the
        // other ranks' rings wait for rank 0's: over buffers that span several slabs and many segments.
        Communicator[] cs = group("behindSend" + n, n, 30_000);
        try {
            onRanks(cs, (rank, c) -> {
                long p2pElems = 12_000_001;
                BytePointer p2p = buffer(DType.F32, p2pElems);
                if (rank == 0) {
                    for (long i = 0; i < p2pElems; i += 1001) put(p2p, DType.F32, i, i % 13);
                    c.send(p2p, p2pElems, DType.F32, 1);
                } else if (rank == 1) {
                    c.recv(p2p, p2pElems, DType.F32, 0);
                    for (long i = 0; i < p2pElems; i += 1001) assertEquals(i % 13, get(p2p, DType.F32, i));
                }
                long elems = 1_000_003;
                BytePointer b = buffer(DType.F32, elems);
                allReduceChecked(c, rank, n, b, elems, ReduceOp.AVG, "behind a send");
                reduceScatterThenAllGather(c, rank, n, 333_337);
                for (BytePointer x : new BytePointer[] {p2p, b}) x.close();
            });
        } finally {
            closeAll(cs);
        }
    }

    @Test
    void severalGroupsAtOnce() throws Exception {
        // 4 ranks: a world group plus two pair groups {0,1} and {2,3}, used concurrently.
        Communicator[] world = group("world", 4, 20_000);
        Communicator[] a = group("pairA", 2, 20_000);
        Communicator[] b = group("pairB", 2, 20_000);
        try {
            onRanks(world, (rank, w) -> {
                Communicator pair = rank < 2 ? a[rank] : b[rank - 2];
                for (int iter = 0; iter < 20; iter++) {
                    BytePointer x = buffer(DType.F32, 1000), y = buffer(DType.F32, 1000);
                    for (int i = 0; i < 1000; i++) {
                        put(x, DType.F32, i, rank);
                        put(y, DType.F32, i, 1);
                    }
                    pair.allReduce(x, 1000, DType.F32, ReduceOp.SUM);
                    w.allReduce(y, 1000, DType.F32, ReduceOp.SUM);
                    assertEquals(rank < 2 ? 1f : 5f, get(x, DType.F32, 999));
                    assertEquals(4f, get(y, DType.F32, 0));
                }
            });
        } finally {
            closeAll(world);
            closeAll(a);
            closeAll(b);
        }
    }

    @Test
    void abortUnblocksARankWaitingForADeadPeer() throws Exception {
        Communicator[] cs = group("abort", 2, 60_000);
        try {
            // Rank 1 is "dead": it never calls. Rank 0 blocks until another thread aborts.
            ExecutorService pool = Executors.newSingleThreadExecutor();
            Future<Throwable> waiting = pool.submit(() -> {
                try {
                    BytePointer b = buffer(DType.F32, 1 << 16);
                    cs[0].allReduce(b, 1 << 16, DType.F32, ReduceOp.SUM);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Thread.sleep(200);
            long t0 = System.nanoTime();
            cs[0].abort("mesh epoch bumped");
            Throwable t = waiting.get(10, TimeUnit.SECONDS);
            assertInstanceOf(CommException.class, t, String.valueOf(t));
            assertEquals(CommException.Kind.ABORTED, ((CommException) t).kind(), t.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
            // Later calls fail fast too.
            Pointer b = buffer(DType.F32, 4);
            CommException again = org.junit.jupiter.api.Assertions.assertThrows(
                    CommException.class, () -> cs[0].allReduce(b, 4, DType.F32, ReduceOp.SUM));
            assertEquals(CommException.Kind.ABORTED, again.kind());
            pool.shutdownNow();
        } finally {
            closeAll(cs);
        }
    }

    @Test
    void timeoutNamesTheOperation() throws Exception {
        Communicator[] cs = group("timeout", 3, 400);
        try {
            BytePointer b = buffer(DType.F32, 10);
            long t0 = System.nanoTime();
            CommException e = org.junit.jupiter.api.Assertions.assertThrows(
                    CommException.class, () -> cs[0].allReduce(b, 10, DType.F32, ReduceOp.SUM));
            assertEquals(CommException.Kind.TIMEOUT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("allReduce"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
        } finally {
            closeAll(cs);
        }
    }

    @Test
    void mismatchedCallsFailInsteadOfCorrupting() throws Exception {
        Communicator[] cs = group("mismatch", 2, 5_000);
        try {
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            onRanks(cs, (rank, c) -> {
                try {
                    BytePointer b = buffer(DType.F32, 100);
                    c.allReduce(b, rank == 0 ? 100 : 50, DType.F32, ReduceOp.SUM);
                } catch (CommException e) {
                    errors.add(e);
                }
            });
            assertTrue(!errors.isEmpty(), "no rank noticed the mismatch");
            for (Throwable t : errors) {
                CommException.Kind k = ((CommException) t).kind();
                assertTrue(
                        k == CommException.Kind.INVALID_ARGUMENT
                                || k == CommException.Kind.PEER_LOST
                                || k == CommException.Kind.ABORTED,
                        t.getMessage());
            }
        } finally {
            closeAll(cs);
        }
    }
}
