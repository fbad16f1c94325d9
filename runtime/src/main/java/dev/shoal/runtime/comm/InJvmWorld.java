// The in-JVM collective backend: ranks are threads of one process and share memory.
//
// Every collective publishes each rank's buffer address, then ranks read (and, for allReduce,
// write) each other's memory directly: rank r reduces chunk r over all ranks in rank order and
// writes the result into every rank's buffer. Collectives make no intermediate copies;
// point-to-point send stages one copy so that sends never block.
//
// Guarantees: all ranks get bit-identical results; mismatched calls (different ops or counts)
// fail on every rank; abort() or a timeout turns every blocked and later call into CommException.
package dev.shoal.runtime.comm;

import dev.shoal.comm.CommException;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

public final class InJvmWorld {
    private InJvmWorld() {}

    /** Bytes of a chunk reduced and copied out before moving on: stays in L2 across both passes. */
    static final long BLOCK_BYTES = 128 << 10;

    /** Creates the communicators of one group of {@code size} thread ranks, index = rank. */
    public static Communicator[] group(int size, long epoch, long timeoutMillis) {
        if (size < 1) throw new IllegalArgumentException("group size must be >= 1, got " + size);
        Shared g = new Shared(size, epoch, timeoutMillis);
        Communicator[] out = new Communicator[size];
        for (int r = 0; r < size; r++) out[r] = new Rank(g, r);
        return out;
    }

    /** State shared by the ranks of one group. */
    private static final class Shared {
        final int size;
        final long epoch;
        final long timeoutMillis;
        final GroupBarrier barrier;
        final long[] addr; // published buffer address per rank
        final long[] addr2; // second published address (recv buffers)
        final String[] call; // published call signature per rank, to catch mismatches
        final LinkedBlockingQueue<BytePointer>[][] mailbox; // [src][dst]: staged messages in order

        @SuppressWarnings("unchecked")
        Shared(int size, long epoch, long timeoutMillis) {
            this.size = size;
            this.epoch = epoch;
            this.timeoutMillis = timeoutMillis;
            this.barrier = new GroupBarrier(size, timeoutMillis);
            this.addr = new long[size];
            this.addr2 = new long[size];
            this.call = new String[size];
            this.mailbox = new LinkedBlockingQueue[size][size];
            for (int s = 0; s < size; s++) for (int d = 0; d < size; d++) mailbox[s][d] = new LinkedBlockingQueue<>();
        }
    }

    private static final class Rank implements Communicator {
        private final Shared g;
        private final int rank;
        private final HostMemory.Scratch scratch = new HostMemory.Scratch();

        Rank(Shared g, int rank) {
            this.g = g;
            this.rank = rank;
        }

        @Override
        public int rank() {
            return rank;
        }

        @Override
        public int size() {
            return g.size;
        }

        @Override
        public long epoch() {
            return g.epoch;
        }

        /** Publishes this rank's addresses and checks that every rank makes the same call. */
        private void enter(String signature, long a, long b) {
            g.addr[rank] = a;
            g.addr2[rank] = b;
            g.call[rank] = signature;
            g.barrier.await(rank, signature);
            for (int r = 0; r < g.size; r++) {
                if (!signature.equals(g.call[r])) {
                    String msg = "mismatched collectives: rank " + rank + " called " + signature + " but rank " + r
                            + " called " + g.call[r];
                    g.barrier.breakWith(new CommException(CommException.Kind.INVALID_ARGUMENT, msg));
                    throw new CommException(CommException.Kind.INVALID_ARGUMENT, msg);
                }
            }
        }

        private static long lo(long elems, int parts, int i) {
            return elems * i / parts;
        }

        @Override
        public void allReduce(Pointer buf, long elems, DType dtype, ReduceOp op) {
            String sig = "allReduce(" + elems + " " + dtype + " " + op + ")";
            enter(sig, HostMemory.address(buf), 0);
            // Rank r owns chunk r. Only rank r ever reads chunk r of any buffer, so it may reduce
            // into its own buffer in place and then write the result straight into every peer's
            // chunk r: no scratch copy and no barrier between reading and writing. The ranks work on
            // disjoint chunks in parallel, and each walks its chunk in cache-sized blocks, so a block
            // is copied out to the peers while it is still in cache (one pass over memory, not two).
            long from = lo(elems, g.size, rank);
            long n = lo(elems, g.size, rank + 1) - from;
            long step = BLOCK_BYTES / dtype.bytesFor(1);
            for (long b = from; b < from + n; b += step) {
                long m = Math.min(step, from + n - b);
                long off = dtype.bytesFor(b), bytes = dtype.bytesFor(m);
                long own = g.addr[rank] + off;
                // 1. Reduce the block over the other ranks, in rank order, into this rank's buffer.
                for (int r = 0; r < g.size; r++) {
                    if (r != rank) Reduce.accumulate(own, g.addr[r] + off, m, dtype, op);
                }
                Reduce.finish(own, m, dtype, op, g.size);
                // 2. Copy the reduced block into every peer's buffer.
                for (int r = 0; r < g.size; r++) {
                    if (r != rank) HostMemory.copy(g.addr[r] + off, g.addr[rank] + off, bytes);
                }
            }
            // 3. Nobody returns before every chunk has arrived everywhere.
            g.barrier.await(rank, sig);
        }

        /** Reduces chunk [from, from+n) over all ranks, in rank order, into acc (not a rank's buffer). */
        private void reduceChunk(long acc, long from, long n, DType dtype, ReduceOp op) {
            long off = dtype.bytesFor(from);
            if (g.size == 1) {
                HostMemory.copy(acc, g.addr[0] + off, dtype.bytesFor(n));
            } else {
                // rank 0 op rank 1 straight into acc (no copy of rank 0's chunk first), then the rest.
                Reduce.combine(acc, g.addr[0] + off, g.addr[1] + off, n, dtype, op);
            }
            for (int r = 2; r < g.size; r++) {
                Reduce.accumulate(acc, g.addr[r] + off, n, dtype, op);
            }
            Reduce.finish(acc, n, dtype, op, g.size);
        }

        @Override
        public void reduceScatter(Pointer send, Pointer recv, long recvElems, DType dtype, ReduceOp op) {
            String sig = "reduceScatter(" + recvElems + " " + dtype + " " + op + ")";
            enter(sig, HostMemory.address(send), HostMemory.address(recv));
            reduceChunk(g.addr2[rank], recvElems * rank, recvElems, dtype, op);
            g.barrier.await(rank, sig); // peers may still read our send buffer until here
        }

        @Override
        public void allGather(Pointer send, Pointer recv, long sendElems, DType dtype) {
            String sig = "allGather(" + sendElems + " " + dtype + ")";
            enter(sig, HostMemory.address(send), HostMemory.address(recv));
            for (int r = 0; r < g.size; r++) {
                HostMemory.copy(g.addr2[rank] + dtype.bytesFor(sendElems * r), g.addr[r], dtype.bytesFor(sendElems));
            }
            g.barrier.await(rank, sig);
        }

        @Override
        public void broadcast(Pointer buf, long elems, DType dtype, int root) {
            checkPeer(root, "broadcast root");
            String sig = "broadcast(" + elems + " " + dtype + " root " + root + ")";
            enter(sig, HostMemory.address(buf), 0);
            if (rank != root) HostMemory.copy(g.addr[rank], g.addr[root], dtype.bytesFor(elems));
            g.barrier.await(rank, sig);
        }

        @Override
        public void send(Pointer buf, long elems, DType dtype, int peer) {
            checkPeer(peer, "send peer");
            checkAlive("send to " + peer, Long.MAX_VALUE);
            // Stage one copy, so that the caller may reuse buf at once and two ranks that send to
            // each other before receiving never deadlock (a pipeline does exactly that).
            long bytes = dtype.bytesFor(elems);
            BytePointer staged = new BytePointer(Math.max(1, bytes));
            staged.limit(bytes);
            HostMemory.copy(staged.address(), HostMemory.address(buf), bytes);
            g.mailbox[rank][peer].add(staged);
        }

        @Override
        public void recv(Pointer buf, long elems, DType dtype, int peer) {
            checkPeer(peer, "recv peer");
            String what = "recv from " + peer;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(g.timeoutMillis);
            BytePointer msg;
            try {
                while ((msg = g.mailbox[peer][rank].poll(20, TimeUnit.MILLISECONDS)) == null) {
                    checkAlive(what, deadline);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CommException(CommException.Kind.ABORTED, what + ": interrupted");
            }
            try {
                long bytes = dtype.bytesFor(elems);
                if (msg.limit() != bytes) {
                    String m = "rank " + rank + " " + what + " expected " + bytes + " bytes, peer sent " + msg.limit();
                    g.barrier.breakWith(new CommException(CommException.Kind.INVALID_ARGUMENT, m));
                    throw new CommException(CommException.Kind.INVALID_ARGUMENT, m);
                }
                HostMemory.copy(HostMemory.address(buf), msg.address(), bytes);
            } finally {
                msg.close();
            }
        }

        private void checkAlive(String what, long deadline) {
            CommException b = g.barrier.broken();
            if (b != null) throw new CommException(b.kind(), "rank " + rank + " " + what + ": " + b.detail(), b);
            if (System.nanoTime() > deadline) {
                CommException e = new CommException(
                        CommException.Kind.TIMEOUT,
                        "rank " + rank + " " + what + ": no peer within " + g.timeoutMillis + " ms");
                g.barrier.breakWith(e);
                throw e;
            }
        }

        private void checkPeer(int peer, String what) {
            if (peer < 0 || peer >= g.size || (peer == rank && !what.startsWith("broadcast"))) {
                throw new CommException(
                        CommException.Kind.INVALID_ARGUMENT,
                        "rank " + rank + " " + what + " " + peer + " must be another rank of the group of " + g.size);
            }
        }

        @Override
        public void barrier() {
            g.barrier.await(rank, "barrier");
        }

        @Override
        public void abort(String reason) {
            g.barrier.breakWith(
                    new CommException(CommException.Kind.ABORTED, "group aborted by rank " + rank + ": " + reason));
        }

        @Override
        public void close() {
            scratch.close();
        }
    }
}
