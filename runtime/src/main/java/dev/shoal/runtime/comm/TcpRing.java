// The ring pass under TcpCommunicator's reductions: at step s a rank sends a frame to the next rank and
// receives one from the previous, reducing it as it lands; a step forwards what the step before received.
// It runs one of two ways (Mode): lock-step on the caller's thread alone, or duplex, the communicator's
// sender thread writing while the caller receives. Both put the same bytes on the wire (a 16-byte frame
// header, then the frame), so ranks that run different modes still interoperate.
// Guarantees: neither way can deadlock on full socket buffers (see run and runDuplex); every rank gets
// bit-identical results; run returns only once no thread of the ring touches the caller's buffers.
package dev.shoal.runtime.comm;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.comm.TcpCommunicator.Tag;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

final class TcpRing {
    /** Largest grain of the ring reductions: large enough for few syscalls, small enough to stay in cache. */
    static final long SEGMENT_BYTES = 256 << 10;
    /** Smallest grain of the ring reductions, for small buffers: below it the syscalls per segment dominate. */
    static final long MIN_SEGMENT_BYTES = 32 << 10;

    /** Open rings (one per TcpCommunicator) in this JVM, for Mode.AUTO. */
    private static final AtomicInteger OPEN = new AtomicInteger();

    /**
     * How a ring runs. LOCK_STEP: the caller's thread alone alternates writing and receiving pieces (best
     * when ranks share few cores). DUPLEX: the sender thread writes while the caller receives and reduces,
     * a forwarded piece going out as soon as it has landed (best when every rank has cores to spare).
     * AUTO: DUPLEX when the JVM has a core per open communicator and two more, else LOCK_STEP (8 ranks
     * on 16 cores measured faster duplex; the count is this JVM's, so several rank JVMs on one host
     * should set the mode). From the system property shoal.comm.tcp.ring (auto, lock-step, duplex); auto
     * by default.
     */
    enum Mode {
        AUTO,
        LOCK_STEP,
        DUPLEX;

        static Mode configured() {
            String v = System.getProperty("shoal.comm.tcp.ring", "auto");
            return switch (v.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "lock-step", "lockstep" -> LOCK_STEP;
                case "duplex" -> DUPLEX;
                default ->
                    throw new IllegalArgumentException(
                            "shoal.comm.tcp.ring is '" + v + "': use auto, lock-step or duplex");
            };
        }
    }

    /** The communicator's check of a frame header on in[peer] (caller thread). */
    @FunctionalInterface
    interface Headers {
        void read(int peer, Tag tag, long bytes) throws IOException;
    }

    private final int rank;
    private final int size;
    private final SocketChannel[] out; // out[j]: this rank's frames to rank j (written only)
    private final SocketChannel[] in; // in[j]: rank j's frames to this rank (read only)
    private final ExecutorService sender; // the communicator's sender thread: a duplex ring's writer
    private final HostMemory.Scratch tmp; // the communicator's scratch: one reduction segment
    private final Mode mode;
    private final Headers headers;
    private final ByteBuffer ringHeader = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN); // caller
    private final ByteBuffer writerHeader = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN); // sender
    /**
     * The bytes a ring may leave unread on one connection: n pieces of a lock-step ring fit in it (see
     * run). The smallest send buffer the JDK reports, which on Linux is half of what the kernel granted
     * (the kernel doubles the request for its own overhead, the JDK halves it back); 0 when unknown.
     */
    private final long unreadBytes;

    private boolean closed;

    TcpRing(
            int rank,
            SocketChannel[] out,
            SocketChannel[] in,
            ExecutorService sender,
            HostMemory.Scratch tmp,
            Mode mode,
            Headers headers) {
        this.rank = rank;
        this.size = out.length;
        this.out = out;
        this.in = in;
        this.sender = sender;
        this.tmp = tmp;
        this.mode = mode;
        this.headers = headers;
        long sndbuf = Long.MAX_VALUE;
        for (SocketChannel p : out) {
            if (p == null) continue;
            try {
                sndbuf = Math.min(sndbuf, p.getOption(java.net.StandardSocketOptions.SO_SNDBUF));
            } catch (IOException | RuntimeException e) {
                sndbuf = 0; // unknown: pieces of a page
            }
        }
        this.unreadBytes = sndbuf == Long.MAX_VALUE ? 0 : sndbuf;
        OPEN.incrementAndGet();
    }

    /** The communicator is closed: this ring no longer counts for Mode.AUTO. */
    synchronized void close() {
        if (!closed) OPEN.decrementAndGet();
        closed = true;
    }

    /**
     * One ring pass. At step s this rank sends sendBytes[s] from send[s]
     * to the next rank and receives bytes[s] from the previous one: straight into dst[s] when a[s] == 0,
     * else segment by segment and then dst[s] = a[s] op received (finishing AVG on step finishStep). Step
     * s > 0 sends what step s − 1 received (sendBytes[s] == bytes[s − 1]).
     *
     * Duplex when the mode says so (runDuplex). Lock-step, on the caller's thread alone: every frame of the ring is cut into the same number of pieces, as many as its largest
     * frame needs to keep a piece within unreadBytes / n (one when it fits), and the thread alternates:
     * write piece q of what it sends, then receive piece q of what it gets. The writes cannot wait on a
     * cycle: a rank writes piece q only after it has received piece q − 1, which its predecessor wrote
     * only after receiving piece q − 2, and so on around the ring, so when a rank writes piece q its
     * successor has received piece q − n. So at most n pieces (and their headers) are unread on a
     * connection, at most unreadBytes: half the send buffer the kernel granted, with the receiver's
     * buffer on top. (Every rank derives the same cut from the same chunks; the bytes on the wire do not
     * depend on it. Under system-wide TCP memory pressure a write may still stall; the watchdog then
     * turns it into a timeout.)
     * The piece a step forwards was received a step earlier, so it is always there when it is due.
     * No hand-off to a second thread and no wake-ups, which is what ranks squeezed onto few cores want:
     * whole-process wall time on 2 cores against the former pipelined path with a sender thread, 2 ranks:
     * 8 MiB allReduce 0.86, 16 MiB 0.87–0.95 (allGather 0.97–1.00, reduceScatter 0.96), 64 MiB
     * 0.92–0.98; with more ranks than cores (4 on 2) a rank that waits in a read gives up its core, and
     * 16 MiB rings lose about 12 %. With cores to spare, duplex wins (docs/perf.md). The caller runs {@code local}
     * (work on memory the ring neither sends nor receives) after the first write, while that piece is on
     * the wire.
     */
    void run(
            Tag[] tags,
            long[] send,
            long[] sendBytes,
            long[] dst,
            long[] a,
            long[] bytes,
            int finishStep,
            DType dtype,
            ReduceOp op,
            Runnable local)
            throws IOException {
        int steps = bytes.length;
        int next = mod(rank + 1, size), prev = mod(rank - 1, size);
        long largest = 0;
        for (long b : bytes) largest = Math.max(largest, b);
        long segBytes = segmentBytes(largest);
        for (long b : sendBytes) largest = Math.max(largest, b);
        SocketChannel out = this.out[next], in = this.in[prev];
        long segment = tmp.address(segBytes); // scratch for one segment
        Rx rx = new Rx(in, prev, segBytes, HostMemory.view(segment, segBytes), segment, dtype, op);
        long elemBytes = dtype.bytesFor(1);
        if (duplex()) {
            runDuplex(tags, send, sendBytes, dst, a, bytes, finishStep, local, largest, rx);
            return;
        }
        int pieces = piecesPerFrame(largest, unreadBytes, size, elemBytes);
        for (int s = 0; s < steps; s++) {
            for (int k = 0; k < pieces; k++) {
                // 1. Write piece k of step s's frame, the frame header before the first.
                long from = cut(sendBytes[s], k, pieces, elemBytes), to = cut(sendBytes[s], k + 1, pieces, elemBytes);
                writePiece(out, ringHeader, tags[s], send[s], sendBytes[s], k == 0, from, to);
                if (s == 0 && k == 0) local.run();
                // 2. Receive piece k of step s (its header before the first), reducing it as it lands.
                if (k == 0) headers.read(prev, tags[s], bytes[s]);
                from = cut(bytes[s], k, pieces, elemBytes);
                to = cut(bytes[s], k + 1, pieces, elemBytes);
                receive(rx, dst[s], a[s], bytes[s], from, to, s == finishStep);
            }
        }
    }

    private boolean duplex() {
        return duplex(mode, Runtime.getRuntime().availableProcessors(), OPEN.get());
    }

    static boolean duplex(Mode mode, int cores, int openRings) {
        return switch (mode) {
            case DUPLEX -> true;
            case LOCK_STEP -> false;
            case AUTO -> cores >= openRings + 2;
        };
    }

    /** How rings of the configured mode run in this JVM now, e.g. for a benchmark's header. */
    static String describeConfigured() {
        Mode m = Mode.configured();
        int cores = Runtime.getRuntime().availableProcessors(), open = OPEN.get();
        return (duplex(m, cores, open) ? "duplex" : "lock-step") + " (shoal.comm.tcp.ring="
                + m.name().toLowerCase(Locale.ROOT).replace('_', '-') + "; " + cores + " cores, " + open
                + " open communicators)";
    }

    /**
     * The ring of {@link #run} on two threads: the sender thread writes every piece of every step while
     * the caller receives and reduces them. Pieces are a reduction segment each; piece k of step s > 0 is
     * what the caller received as piece k of step s − 1, so the sender writes it once the ring's HandOff
     * says it has landed (spinning briefly, then parking until the caller unparks it). Neither thread
     * waits on a cycle: a caller only reads, and the writes of step s wait only on reads of step s − 1,
     * down to step 0, which waits on nothing; so any socket buffer size works. A thread that fails closes
     * the other's connection; the op reports the first real failure (not the other thread's "closed") and
     * returns only when the sender thread is done with the caller's buffers, also when it fails or the
     * caller is interrupted. Each ring has its own HandOff, so no sender task can act on a later ring's
     * progress.
     */
    private void runDuplex(
            Tag[] tags,
            long[] send,
            long[] sendBytes,
            long[] dst,
            long[] a,
            long[] bytes,
            int finishStep,
            Runnable local,
            long largest,
            Rx rx)
            throws IOException {
        int steps = bytes.length;
        long elemBytes = rx.dtype().bytesFor(1);
        int pieces = (int) Math.max(1, (largest + rx.segBytes() - 1) / rx.segBytes());
        SocketChannel out = this.out[mod(rank + 1, size)];
        int prev = rx.prev();
        HandOff hand = new HandOff(); // this ring's own: a writer of an earlier ring can never see it
        Future<?> writer = sender.submit(() -> {
            try {
                for (int s = 0; s < steps; s++) {
                    for (int k = 0; k < pieces; k++) {
                        // 1. Wait until the piece this one forwards has landed (step 0 forwards nothing).
                        if (s > 0) awaitReceived(hand, (long) (s - 1) * pieces + k + 1, out);
                        // 2. Write it, the frame header before the first piece.
                        long from = cut(sendBytes[s], k, pieces, elemBytes),
                                to = cut(sendBytes[s], k + 1, pieces, elemBytes);
                        writePiece(out, writerHeader, tags[s], send[s], sendBytes[s], k == 0, from, to);
                    }
                }
                return null;
            } catch (Throwable e) {
                // The caller may be blocked in a read that will never complete: wake it.
                hand.writerFailed = e;
                TcpTransport.closeAll(this.in);
                throw e;
            }
        });
        try {
            local.run();
            for (int s = 0; s < steps; s++) {
                for (int k = 0; k < pieces; k++) {
                    // 3. Receive piece k of step s (its header before the first), reducing it as it lands,
                    //    and tell the sender thread it may forward it.
                    if (k == 0) headers.read(prev, tags[s], bytes[s]);
                    long from = cut(bytes[s], k, pieces, elemBytes), to = cut(bytes[s], k + 1, pieces, elemBytes);
                    receive(rx, dst[s], a[s], bytes[s], from, to, s == finishStep);
                    hand.received = (long) s * pieces + k + 1;
                    Thread parked = hand.parked;
                    if (parked != null) LockSupport.unpark(parked);
                }
            }
        } catch (Throwable e) {
            // Stop the sender thread (it may wait for pieces that will never come) and wait until it is off
            // the caller's buffers. When it failed first for a reason of its own (e.g. the next rank is
            // gone) and only closed this thread's connection, its failure is the cause.
            hand.stopped = true;
            TcpTransport.closeAll(this.out);
            LockSupport.unpark(hand.parked);
            awaitDone(writer);
            Throwable w = hand.writerFailed;
            if (w != null && !(w instanceof ClosedChannelException) && e instanceof ClosedChannelException) {
                w.addSuppressed(e);
                throw asIo(w);
            }
            throw e;
        }
        awaitDone(writer);
        Throwable w = hand.writerFailed;
        if (w != null) throw asIo(w);
    }

    /** One duplex ring's hand-off between the caller and the sender thread. */
    private static final class HandOff {
        volatile long received; // pieces the caller has received (and reduced) so far
        volatile Thread parked; // the sender thread while it is parked waiting for the next piece
        volatile Throwable writerFailed; // why the sender thread stopped early
        volatile boolean stopped; // the caller gave up: the sender thread stops waiting
    }

    /** Sender thread: waits until the caller has received {@code pieces} pieces of this ring. */
    private static void awaitReceived(HandOff hand, long pieces, SocketChannel out) throws IOException {
        for (int spins = 0; hand.received < pieces; spins++) {
            if (hand.stopped || !out.isOpen()) throw new AsynchronousCloseException(); // the caller gave up
            if (spins < 2000) {
                Thread.onSpinWait();
            } else {
                hand.parked = Thread.currentThread();
                if (hand.received < pieces && !hand.stopped) LockSupport.parkNanos(hand, 200_000);
                hand.parked = null;
            }
        }
    }

    /**
     * Caller: waits until the sender task has finished, however it ends, without giving up on an
     * interrupt (the flag is kept): the op must not return while the task may touch its buffers.
     */
    private static void awaitDone(Future<?> task) {
        boolean interrupted = false;
        while (true) {
            try {
                task.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (ExecutionException | java.util.concurrent.CancellationException e) {
                break;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private static IOException asIo(Throwable t) {
        if (t instanceof IOException io) return io;
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error e) throw e;
        return new IOException(String.valueOf(t), t);
    }

    /**
     * Pieces per frame of a lock-step ring whose largest frame is largestBytes: the fewest that keep n
     * pieces of whole elements within unreadBytes (their n 16-byte frame headers ride on the margin of
     * the kernel's buffers; pieces are at least a page, which is what a ring gets when the send buffer is
     * unknown).
     */
    static int piecesPerFrame(long largestBytes, long unreadBytes, int n, long elemBytes) {
        long maxPieceElems = Math.max(4096, unreadBytes / n) / elemBytes;
        long largestElems = largestBytes / elemBytes;
        return (int) Math.max(1, (largestElems + maxPieceElems - 1) / maxPieceElems);
    }

    /** Start of piece k of a frame of frameBytes cut into pieces near-equal pieces of whole elements. */
    static long cut(long frameBytes, int k, int pieces, long elemBytes) {
        return frameBytes / elemBytes * k / pieces * elemBytes;
    }

    /** What every piece of one ring is received with: the connection from prev, the scratch segment
     * (segBytes at segmentAddress, and its view), the element type and the reduction. */
    private record Rx(
            SocketChannel in,
            int prev,
            long segBytes,
            ByteBuffer segment,
            long segmentAddress,
            DType dtype,
            ReduceOp op) {}

    /** Writes one piece, [from, to) of a frame of frameBytes at address; the frame header goes first,
     * in the same gathering write, with the first piece (a later piece may be empty and start at 0 too). */
    private static void writePiece(
            SocketChannel out,
            ByteBuffer header,
            Tag tag,
            long address,
            long frameBytes,
            boolean first,
            long from,
            long to)
            throws IOException {
        ByteBuffer data = HostMemory.view(address + from, to - from);
        if (first) {
            ByteBuffer h = header.clear();
            h.putInt(TcpCommunicator.MAGIC)
                    .putInt(tag.ordinal())
                    .putLong(frameBytes)
                    .flip();
            ByteBuffer[] frame = {h, data};
            while (h.hasRemaining() || data.hasRemaining()) out.write(frame);
        } else {
            while (data.hasRemaining()) out.write(data);
        }
    }

    /**
     * Caller thread: receives bytes [from, to) of a ring step of stepBytes from prev (its header already
     * read): straight into dst when a == 0, else segment by segment (into dst itself when it does not
     * overlap a, else into the scratch segment), then dst = a op received, finishing AVG when finish.
     * At most one NIO view for the piece, reused for every segment (the scratch segment's is the ring's).
     */
    private void receive(Rx rx, long dst, long a, long stepBytes, long from, long to, boolean finish)
            throws IOException {
        SocketChannel in = rx.in();
        int prev = rx.prev();
        long segBytes = rx.segBytes();
        ByteBuffer segment = rx.segment();
        long segmentAddress = rx.segmentAddress();
        DType dtype = rx.dtype();
        ReduceOp op = rx.op();
        // When dst is not a's buffer (reduceScatter's slots and output), the segment lands in dst itself
        // and a is added into it there (a op b == b op a, bit for bit): no scratch pass, no copy of a.
        boolean intoDst = a == 0 || dst + stepBytes <= a || a + stepBytes <= dst;
        ByteBuffer piece = intoDst ? HostMemory.view(dst + from, to - from) : null;
        if (a == 0) {
            fill(in, prev, piece);
            return;
        }
        for (long o = from; o < to; o += segBytes) {
            int len = (int) Math.min(segBytes, to - o);
            if (intoDst) {
                fill(in, prev, piece.limit((int) (o - from) + len).position((int) (o - from)));
            } else {
                fill(in, prev, segment.clear().limit(len));
            }
            long elems = len / dtype.bytesFor(1);
            Reduce.combine(dst + o, a + o, intoDst ? dst + o : segmentAddress, elems, dtype, op);
            if (finish) Reduce.finish(dst + o, elems, dtype, op, size);
        }
    }

    /** Caller thread: reads from prev until v is full. */
    private static void fill(SocketChannel in, int prev, ByteBuffer v) throws IOException {
        while (v.hasRemaining()) {
            if (in.read(v) < 0) throw new IOException("rank " + prev + " closed the connection");
        }
    }

    /**
     * Pipeline grain of the reductions for a ring whose largest step moves stepBytes: an eighth of the
     * step, a power of two between MIN_SEGMENT_BYTES and SEGMENT_BYTES.
     */
    static long segmentBytes(long stepBytes) {
        long eighth = Long.highestOneBit(Math.max(1, stepBytes / 8));
        return Math.max(MIN_SEGMENT_BYTES, Math.min(SEGMENT_BYTES, eighth));
    }

    private static int mod(int a, int n) {
        return ((a % n) + n) % n;
    }
}
