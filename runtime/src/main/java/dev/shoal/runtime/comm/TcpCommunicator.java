// One rank's communicator over TCP: ring reduce-scatter / all-gather for the reductions, direct
// frames for broadcast and point-to-point. Each frame carries a header (magic, op tag, bytes) that
// the receiver checks, so mismatched calls fail loudly instead of corrupting memory.
//
// Sends run on one sender thread per communicator (FIFO, so frames keep their order) while the
// caller's thread receives: neighbours in a ring never deadlock on full socket buffers.
// A watchdog aborts an operation that runs past the timeout; abort() closes every connection,
// which wakes blocked I/O. Guarantees: every rank of a group gets bit-identical reduction results.
package dev.shoal.runtime.comm;

import dev.shoal.comm.CommException;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

final class TcpCommunicator implements Communicator {
    private static final int MAGIC = 0x53484f4c; // "SHOL"
    private static final long MAX_IO_BYTES = 1L << 30;
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "shoal-tcp-watchdog");
        t.setDaemon(true);
        return t;
    });

    private enum Tag {
        REDUCE,
        GATHER,
        BROADCAST,
        P2P
    }

    private final String group;
    private final long epoch;
    private final int rank;
    private final int size;
    private final SocketChannel[] peers;
    private final long timeoutMillis;
    private final ExecutorService sender;
    private final HostMemory.Scratch tmp = new HostMemory.Scratch();
    private final HostMemory.Scratch acc = new HostMemory.Scratch();
    private final ScheduledFuture<?> watchdog;
    private volatile CommException aborted;
    private volatile long opStartNanos; // 0 when idle
    private volatile String opName = "";
    private Future<?> lastSend; // the most recent asynchronous send; FIFO order covers earlier ones

    TcpCommunicator(String group, long epoch, int rank, SocketChannel[] peers, long timeoutMillis) {
        this.group = group;
        this.epoch = epoch;
        this.rank = rank;
        this.size = peers.length;
        this.peers = peers;
        this.timeoutMillis = timeoutMillis;
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shoal-tcp-send-" + group + "-" + rank);
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(10, Math.min(200, timeoutMillis / 4));
        this.watchdog = WATCHDOG.scheduleAtFixedRate(this::watch, period, period, TimeUnit.MILLISECONDS);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public long epoch() {
        return epoch;
    }

    private void watch() {
        long start = opStartNanos;
        if (start != 0 && System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(timeoutMillis)) {
            fail(new CommException(
                    CommException.Kind.TIMEOUT, where(opName) + " did not finish within " + timeoutMillis + " ms"));
        }
    }

    private String where(String op) {
        return "group '" + group + "' epoch " + epoch + " rank " + rank + "/" + size + " " + op;
    }

    /** Marks the communicator broken and closes every connection, waking blocked I/O. */
    private void fail(CommException e) {
        synchronized (this) {
            if (aborted == null) aborted = e;
        }
        TcpTransport.closeAll(peers);
    }

    private void begin(String op) {
        CommException a = aborted;
        if (a != null) throw new CommException(a.kind(), where(op) + ": " + a.detail(), a);
        opName = op;
        opStartNanos = System.nanoTime();
    }

    private void end() {
        opStartNanos = 0;
    }

    /** Runs one operation, turning I/O failures into CommException with the whole picture. */
    private void run(String op, IoAction action) {
        begin(op);
        try {
            action.run();
            if (lastSend != null) awaitSend(op);
        } catch (IOException e) {
            CommException a = aborted;
            if (a != null) throw new CommException(a.kind(), where(op) + ": " + a.detail(), a);
            CommException lost = new CommException(
                    CommException.Kind.PEER_LOST, where(op) + ": connection lost (" + e.getMessage() + ")", e);
            fail(lost);
            throw lost;
        } finally {
            end();
        }
    }

    @FunctionalInterface
    private interface IoAction {
        void run() throws IOException;
    }

    // ---- framing ----

    private void sendAsync(int peer, Tag tag, long address, long bytes, BytePointer owned) {
        SocketChannel ch = peers[peer];
        lastSend = sender.submit(() -> {
            try {
                ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                h.putInt(MAGIC).putInt(tag.ordinal()).putLong(bytes).flip();
                while (h.hasRemaining()) ch.write(h);
                for (long off = 0; off < bytes; off += MAX_IO_BYTES) {
                    ByteBuffer v = HostMemory.view(address + off, Math.min(MAX_IO_BYTES, bytes - off));
                    while (v.hasRemaining()) ch.write(v);
                }
                return null;
            } finally {
                if (owned != null) owned.close();
            }
        });
    }

    private void awaitSend(String op) throws IOException {
        try {
            lastSend.get();
            lastSend = null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending");
        } catch (ExecutionException e) {
            lastSend = null;
            Throwable c = e.getCause();
            throw c instanceof IOException io ? io : new IOException(String.valueOf(c), c);
        }
    }

    private void recvInto(int peer, Tag tag, long address, long bytes) throws IOException {
        SocketChannel ch = peers[peer];
        ByteBuffer h = TcpTransport.readFully(ch, 16).order(ByteOrder.LITTLE_ENDIAN);
        int magic = h.getInt();
        int gotTag = h.getInt();
        long gotBytes = h.getLong();
        if (magic != MAGIC || gotTag != tag.ordinal() || gotBytes != bytes) {
            CommException e = new CommException(
                    CommException.Kind.INVALID_ARGUMENT,
                    where(opName) + ": rank " + peer + " sent " + describe(magic, gotTag) + " of " + gotBytes
                            + " bytes, expected " + tag + " of " + bytes + " bytes (mismatched calls?)");
            fail(e);
            throw e;
        }
        for (long off = 0; off < bytes; off += MAX_IO_BYTES) {
            ByteBuffer v = HostMemory.view(address + off, Math.min(MAX_IO_BYTES, bytes - off));
            while (v.hasRemaining()) {
                if (ch.read(v) < 0) throw new IOException("rank " + peer + " closed the connection");
            }
        }
    }

    private static String describe(int magic, int tag) {
        if (magic != MAGIC) return "a foreign frame";
        return tag >= 0 && tag < Tag.values().length ? Tag.values()[tag].toString() : "tag " + tag;
    }

    private static long chunkLo(long elems, int parts, int i) {
        return elems * i / parts;
    }

    private static int mod(int a, int n) {
        return ((a % n) + n) % n;
    }

    // ---- collectives ----

    @Override
    public void allReduce(Pointer buf, long elems, DType dtype, ReduceOp op) {
        long base = HostMemory.address(buf);
        run("allReduce(" + elems + " " + dtype + " " + op + ")", () -> {
            int next = mod(rank + 1, size);
            int prev = mod(rank - 1, size);
            long maxChunk = chunkLo(elems, size, 1) + 1;
            long t = tmp.address(dtype.bytesFor(maxChunk));
            // 1. Ring reduce-scatter in place: after size-1 steps this rank owns chunk rank+1.
            for (int s = 0; s < size - 1; s++) {
                int sc = mod(rank - s, size);
                int rc = mod(rank - s - 1, size);
                long sLo = chunkLo(elems, size, sc), sN = chunkLo(elems, size, sc + 1) - sLo;
                long rLo = chunkLo(elems, size, rc), rN = chunkLo(elems, size, rc + 1) - rLo;
                sendAsync(next, Tag.REDUCE, base + dtype.bytesFor(sLo), dtype.bytesFor(sN), null);
                recvInto(prev, Tag.REDUCE, t, dtype.bytesFor(rN));
                awaitSend("allReduce");
                Reduce.accumulate(
                        HostMemory.view(base, dtype, rLo, rN), HostMemory.view(t, dtype, 0, rN), rN, dtype, op);
            }
            int own = mod(rank + 1, size);
            long oLo = chunkLo(elems, size, own), oN = chunkLo(elems, size, own + 1) - oLo;
            Reduce.finish(HostMemory.view(base, dtype, oLo, oN), oN, dtype, op, size);
            // 2. Ring all-gather of the reduced chunks, straight into the buffer.
            for (int s = 0; s < size - 1; s++) {
                int sc = mod(rank + 1 - s, size);
                int rc = mod(rank - s, size);
                long sLo = chunkLo(elems, size, sc), sN = chunkLo(elems, size, sc + 1) - sLo;
                long rLo = chunkLo(elems, size, rc), rN = chunkLo(elems, size, rc + 1) - rLo;
                sendAsync(next, Tag.GATHER, base + dtype.bytesFor(sLo), dtype.bytesFor(sN), null);
                recvInto(prev, Tag.GATHER, base + dtype.bytesFor(rLo), dtype.bytesFor(rN));
                awaitSend("allReduce");
            }
        });
    }

    @Override
    public void reduceScatter(Pointer send, Pointer recv, long recvElems, DType dtype, ReduceOp op) {
        long in = HostMemory.address(send);
        long out = HostMemory.address(recv);
        run("reduceScatter(" + recvElems + " " + dtype + " " + op + ")", () -> {
            long bytes = dtype.bytesFor(recvElems);
            if (size == 1) {
                HostMemory.copy(out, in, bytes);
                Reduce.finish(HostMemory.view(out, bytes), recvElems, dtype, op, 1);
                return;
            }
            int next = mod(rank + 1, size);
            int prev = mod(rank - 1, size);
            long t = tmp.address(bytes);
            long a = acc.address(bytes);
            // Ring reduce-scatter that ends with chunk `rank` here; the input stays untouched.
            for (int s = 0; s < size - 1; s++) {
                int sc = mod(rank - s - 1, size);
                int rc = mod(rank - s - 2, size);
                long src = s == 0 ? in + bytes * sc : a;
                sendAsync(next, Tag.REDUCE, src, bytes, null);
                recvInto(prev, Tag.REDUCE, t, bytes);
                awaitSend("reduceScatter");
                long dst = s == size - 2 ? out : a;
                HostMemory.copy(dst, in + bytes * rc, bytes);
                Reduce.accumulate(HostMemory.view(dst, bytes), HostMemory.view(t, bytes), recvElems, dtype, op);
            }
            Reduce.finish(HostMemory.view(out, bytes), recvElems, dtype, op, size);
        });
    }

    @Override
    public void allGather(Pointer send, Pointer recv, long sendElems, DType dtype) {
        long in = HostMemory.address(send);
        long out = HostMemory.address(recv);
        run("allGather(" + sendElems + " " + dtype + ")", () -> {
            long bytes = dtype.bytesFor(sendElems);
            HostMemory.copy(out + bytes * rank, in, bytes);
            int next = mod(rank + 1, size);
            int prev = mod(rank - 1, size);
            for (int s = 0; s < size - 1; s++) {
                int sc = mod(rank - s, size);
                int rc = mod(rank - s - 1, size);
                sendAsync(next, Tag.GATHER, out + bytes * sc, bytes, null);
                recvInto(prev, Tag.GATHER, out + bytes * rc, bytes);
                awaitSend("allGather");
            }
        });
    }

    @Override
    public void broadcast(Pointer buf, long elems, DType dtype, int root) {
        checkPeer(root, "broadcast root");
        long base = HostMemory.address(buf);
        run("broadcast(" + elems + " " + dtype + " root " + root + ")", () -> {
            long bytes = dtype.bytesFor(elems);
            if (rank == root) {
                for (int p = 0; p < size; p++) if (p != root) sendAsync(p, Tag.BROADCAST, base, bytes, null);
            } else {
                recvInto(root, Tag.BROADCAST, base, bytes);
            }
        });
    }

    @Override
    public void send(Pointer buf, long elems, DType dtype, int peer) {
        checkPeer(peer, "send peer");
        long bytes = dtype.bytesFor(elems);
        // Stage a copy so the caller may reuse buf at once and two peers sending to each other
        // never deadlock; the sender thread frees the copy when it is on the wire.
        BytePointer staged = new BytePointer(Math.max(1, bytes));
        HostMemory.copy(staged.address(), HostMemory.address(buf), bytes);
        begin("send(" + elems + " " + dtype + " to " + peer + ")");
        try {
            sendAsync(peer, Tag.P2P, staged.address(), bytes, staged);
        } finally {
            end();
        }
    }

    @Override
    public void recv(Pointer buf, long elems, DType dtype, int peer) {
        checkPeer(peer, "recv peer");
        long base = HostMemory.address(buf);
        run("recv(" + elems + " " + dtype + " from " + peer + ")", () -> {
            recvInto(peer, Tag.P2P, base, dtype.bytesFor(elems));
        });
    }

    @Override
    public void barrier() {
        try (BytePointer one = new BytePointer(4)) {
            allReduce(one, 1, DType.F32, ReduceOp.SUM);
        }
    }

    @Override
    public void synchronize() {
        run("synchronize", () -> {});
    }

    private void checkPeer(int peer, String what) {
        if (peer < 0 || peer >= size || (peer == rank && !what.startsWith("broadcast"))) {
            throw new CommException(
                    CommException.Kind.INVALID_ARGUMENT,
                    where(what) + " " + peer + " must be another rank of the group of " + size);
        }
    }

    @Override
    public void abort(String reason) {
        fail(new CommException(CommException.Kind.ABORTED, "aborted: " + reason));
    }

    @Override
    public void close() {
        watchdog.cancel(false);
        if (aborted == null) fail(new CommException(CommException.Kind.ABORTED, "communicator closed"));
        sender.shutdownNow();
        tmp.close();
        acc.close();
    }
}
