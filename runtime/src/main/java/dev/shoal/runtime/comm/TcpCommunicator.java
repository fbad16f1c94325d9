// One rank's communicator over TCP: ring reduce-scatter / all-gather for the reductions, direct
// frames for broadcast and point-to-point. Each frame carries a header (magic, op tag, bytes) that
// the receiver checks, so mismatched calls fail loudly instead of corrupting memory.
//
// Ring collectives run through TcpRing: lock-step on the caller's thread alone when ranks share few
// cores, duplex (the sender thread writes while the caller receives) when the JVM has cores to spare
// (TcpRing.Mode, property shoal.comm.tcp.ring). Either way, each segment (an eighth of a ring step,
// 32–256 KiB) is reduced as it lands, reads and writes go straight between the socket and the caller's
// off-heap memory (no staging copy), and the only scratch is one segment. Broadcast and send go through
// one sender thread per communicator (FIFO, so frames keep their order) that a ring waits for before it
// starts.
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
    static final int MAGIC = 0x53484f4c; // "SHOL"
    private static final long MAX_IO_BYTES = 1L << 30;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "shoal-tcp-watchdog");
        t.setDaemon(true);
        return t;
    });

    enum Tag {
        REDUCE,
        GATHER,
        BROADCAST,
        P2P
    }

    private final String group;
    private final long epoch;
    private final int rank;
    private final int size;
    private final SocketChannel[] out; // out[j]: this rank's frames to rank j (written only)
    private final SocketChannel[] in; // in[j]: rank j's frames to this rank (read only)
    private final long timeoutMillis;
    private final ExecutorService sender;
    private final HostMemory.Scratch tmp = new HostMemory.Scratch();
    private final HostMemory.Scratch acc = new HostMemory.Scratch();
    private final ByteBuffer sendHeader = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN); // sender only
    private final ByteBuffer recvHeader = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN); // caller only
    private final ScheduledFuture<?> watchdog;
    private volatile CommException aborted;
    private volatile long opStartNanos; // 0 when idle
    private volatile String opName = "";
    private Future<?> lastSend; // the most recent asynchronous send; FIFO order covers earlier ones
    private final TcpRing ring;
    private int opsInFlight; // guarded by this
    private boolean closed; // guarded by this

    TcpCommunicator(
            String group,
            long epoch,
            int rank,
            SocketChannel[] out,
            SocketChannel[] in,
            long timeoutMillis,
            TcpRing.Mode ringMode) {
        this.group = group;
        this.epoch = epoch;
        this.rank = rank;
        this.size = out.length;
        this.out = out;
        this.in = in;
        this.timeoutMillis = timeoutMillis;
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shoal-tcp-send-" + group + "-" + rank);
            t.setDaemon(true);
            return t;
        });
        this.ring = new TcpRing(rank, out, in, sender, tmp, ringMode, this::readHeader);
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
        TcpTransport.closeAll(out);
        TcpTransport.closeAll(in);
    }

    private void begin(String op) {
        CommException a;
        synchronized (this) {
            a = aborted;
            if (a == null) opsInFlight++;
        }
        if (a != null) throw new CommException(a.kind(), where(op) + ": " + a.detail(), a);
        opName = op;
        opStartNanos = System.nanoTime();
    }

    private void end() {
        opStartNanos = 0;
        synchronized (this) {
            if (--opsInFlight == 0 && closed) freeScratch();
        }
    }

    /** Frees the scratch memory: at close, or when the last op in flight at close ends. */
    private void freeScratch() {
        tmp.close();
        acc.close();
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
        } catch (RuntimeException e) {
            // Anything else leaves the streams mid-frame: the communicator cannot be used again, and the
            // sender thread must not wait for progress that will never come.
            fail(
                    e instanceof CommException c
                            ? c
                            : new CommException(CommException.Kind.ABORTED, where(op) + ": failed (" + e + ")", e));
            throw e;
        } catch (Error e) {
            fail(new CommException(CommException.Kind.ABORTED, where(op) + ": failed (" + e + ")", e));
            throw e;
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
        SocketChannel ch = out[peer];
        lastSend = sender.submit(() -> {
            try {
                writeHeader(ch, tag, bytes);
                writeFully(ch, address, bytes);
                return null;
            } catch (IOException | RuntimeException e) {
                // The connection is left mid-frame: the communicator is broken, whichever send's future
                // the caller awaits (it awaits only the last one).
                if (aborted == null) {
                    fail(new CommException(
                            CommException.Kind.PEER_LOST,
                            where("send to rank " + peer) + ": connection lost (" + e.getMessage() + ")",
                            e));
                }
                throw e;
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

    /** Sender thread only. */
    private void writeHeader(SocketChannel ch, Tag tag, long bytes) throws IOException {
        ByteBuffer h = sendHeader.clear();
        h.putInt(MAGIC).putInt(tag.ordinal()).putLong(bytes).flip();
        while (h.hasRemaining()) ch.write(h);
    }

    private static void writeFully(SocketChannel ch, long address, long bytes) throws IOException {
        for (long off = 0; off < bytes; off += MAX_IO_BYTES) {
            ByteBuffer v = HostMemory.view(address + off, Math.min(MAX_IO_BYTES, bytes - off));
            while (v.hasRemaining()) ch.write(v);
        }
    }

    private static void readFully(SocketChannel ch, int peer, long address, long bytes) throws IOException {
        for (long off = 0; off < bytes; off += MAX_IO_BYTES) {
            ByteBuffer v = HostMemory.view(address + off, Math.min(MAX_IO_BYTES, bytes - off));
            while (v.hasRemaining()) {
                if (ch.read(v) < 0) throw new IOException("rank " + peer + " closed the connection");
            }
        }
    }

    /** Caller thread only: reads and checks one frame header. */
    void readHeader(int peer, Tag tag, long bytes) throws IOException {
        SocketChannel ch = in[peer];
        ByteBuffer h = recvHeader.clear();
        while (h.hasRemaining()) {
            if (ch.read(h) < 0) throw new IOException("connection closed by peer");
        }
        h.flip();
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
    }

    private void recvInto(int peer, Tag tag, long address, long bytes) throws IOException {
        readHeader(peer, tag, bytes);
        readFully(in[peer], peer, address, bytes);
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

    /** Before a ring: the frames still queued on the sender thread (broadcast, send) go first. */
    private void afterQueuedSends() throws IOException {
        if (lastSend != null) awaitSend(opName);
    }

    // ---- collectives ----

    @Override
    public void allReduce(Pointer buf, long elems, DType dtype, ReduceOp op) {
        long base = HostMemory.address(buf);
        run("allReduce(" + elems + " " + dtype + " " + op + ")", () -> {
            if (size == 1) return;
            int steps = 2 * (size - 1);
            Tag[] tags = new Tag[steps];
            long[] send = new long[steps], sendBytes = new long[steps];
            long[] dst = new long[steps], a = new long[steps], bytes = new long[steps];
            // 1. Ring reduce-scatter in place: step s sends chunk rank−s and adds chunk rank−s−1 from the
            //    previous rank into this buffer; afterwards this rank owns the reduced chunk rank+1.
            // 2. Ring all-gather: step s sends chunk rank+1−s and receives chunk rank−s into the buffer.
            for (int s = 0; s < steps; s++) {
                boolean rs = s < size - 1;
                int k = rs ? s : s - (size - 1);
                int sc = rs ? mod(rank - k, size) : mod(rank + 1 - k, size);
                int rc = rs ? mod(rank - k - 1, size) : mod(rank - k, size);
                long rLo = chunkLo(elems, size, rc);
                tags[s] = rs ? Tag.REDUCE : Tag.GATHER;
                long sLo = chunkLo(elems, size, sc);
                send[s] = base + dtype.bytesFor(sLo);
                sendBytes[s] = dtype.bytesFor(chunkLo(elems, size, sc + 1) - sLo);
                dst[s] = base + dtype.bytesFor(rLo);
                a[s] = rs ? dst[s] : 0;
                bytes[s] = dtype.bytesFor(chunkLo(elems, size, rc + 1) - rLo);
            }
            afterQueuedSends();
            ring.run(tags, send, sendBytes, dst, a, bytes, size - 2, dtype, op, () -> {});
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
                Reduce.finish(out, recvElems, dtype, op, 1);
                return;
            }
            // Ring reduce-scatter that ends with chunk `rank` in recv; the input stays untouched. Step s
            // receives partial sums of chunk rank−s−2 and writes (own input op them) into a scratch slot
            // for that chunk (into recv on the last step), which step s+1 forwards.
            long slots = acc.address(bytes * size);
            int steps = size - 1;
            Tag[] tags = new Tag[steps];
            long[] src = new long[steps], dst = new long[steps], a = new long[steps], len = new long[steps];
            for (int s = 0; s < steps; s++) {
                int rc = mod(rank - s - 2, size);
                tags[s] = Tag.REDUCE;
                src[s] = s == 0 ? in + bytes * mod(rank - 1, size) : dst[s - 1];
                dst[s] = s == steps - 1 ? out : slots + bytes * rc;
                a[s] = in + bytes * rc;
                len[s] = bytes;
            }
            afterQueuedSends();
            ring.run(tags, src, len, dst, a, len, steps - 1, dtype, op, () -> {});
        });
    }

    @Override
    public void allGather(Pointer send, Pointer recv, long sendElems, DType dtype) {
        long in = HostMemory.address(send);
        long out = HostMemory.address(recv);
        run("allGather(" + sendElems + " " + dtype + ")", () -> {
            long bytes = dtype.bytesFor(sendElems);
            long own = out + bytes * rank;
            // The first step sends this rank's chunk straight from the input, and the copy into its slot
            // of the output runs once the first piece is written; unless the input overlaps another slot
            // of the output (not the in-place layout), which the ring would overwrite while sending it.
            boolean sendFromInput = in == own || in + bytes <= out || out + bytes * size <= in;
            Runnable copyOwn = () -> HostMemory.copy(own, in, bytes);
            if (size == 1 || !sendFromInput) copyOwn.run();
            if (size == 1) return;
            int steps = size - 1;
            Tag[] tags = new Tag[steps];
            long[] src = new long[steps], dst = new long[steps], a = new long[steps], len = new long[steps];
            for (int s = 0; s < steps; s++) {
                tags[s] = Tag.GATHER;
                src[s] = s == 0 && sendFromInput ? in : out + bytes * mod(rank - s, size);
                dst[s] = out + bytes * mod(rank - s - 1, size);
                len[s] = bytes;
            }
            afterQueuedSends();
            ring.run(tags, src, len, dst, a, len, -1, dtype, ReduceOp.SUM, sendFromInput ? copyOwn : () -> {});
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
        ring.close();
        watchdog.cancel(false);
        if (aborted == null) fail(new CommException(CommException.Kind.ABORTED, "communicator closed"));
        // Queued sends still run, fail at once on the closed connections and free their staged copies;
        // their futures complete, so an op awaiting one (on another thread) returns.
        sender.shutdown();
        synchronized (this) {
            if (!closed && opsInFlight == 0) freeScratch();
            closed = true;
        }
    }
}
