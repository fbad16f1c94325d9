// The NCCL backend of Communicator: one rank of one group on one GPU.
//
// Buffers: every Pointer argument is a DEVICE address on this communicator's GPU (a DevicePtr, or
// any JavaCPP Pointer holding a device address, position 0). Counts are elements. Calls return once
// the operation is enqueued on this communicator's CUDA stream (stream()); synchronize() waits.
//
// Failure handling (the mesh can lose a peer at any time):
//   - the communicator is non-blocking (config.blocking = 0): every NCCL call returns at once,
//     possibly with ncclInProgress, and we poll ncclCommGetAsyncError outside of NCCL until it is
//     done, so no thread ever sits inside NCCL where abort could not reach it;
//   - every NCCL call runs under one lock, and ncclCommAbort takes the same lock and marks the
//     handle dead, so no call can touch a freed communicator;
//   - a watchdog thread polls ncclCommGetAsyncError and the age of the oldest unfinished operation
//     (a CUDA event recorded after each enqueue); an async error or an operation older than
//     opTimeout aborts the communicator;
//   - after abort(reason), a timeout or an NCCL error, every later call throws CommException
//     (ABORTED / TIMEOUT / NATIVE_ERROR) naming the rank, group size, epoch, op and the cause.
//
// Guarantees: init either completes within initTimeout or aborts and throws TIMEOUT; close() is
// idempotent and releases the stream, events, scratch memory and the NCCL handle.
package dev.shoal.nccl;

import static org.bytedeco.cuda.global.nccl.*;

import dev.shoal.comm.CommException;
import dev.shoal.comm.CommException.Kind;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.CudaEvent;
import dev.shoal.cuda.CudaStream;
import dev.shoal.cuda.DevicePtr;
import dev.shoal.cuda.NativeLibs;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclConfig_t;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

public final class NcclCommunicator implements Communicator {

    /** Timeouts of one communicator. */
    public record Options(Duration initTimeout, Duration opTimeout, Duration watchdogInterval) {
        public Options {
            if (initTimeout.isNegative() || initTimeout.isZero()) {
                throw new IllegalArgumentException("initTimeout must be positive, got " + initTimeout);
            }
            if (opTimeout.isNegative() || opTimeout.isZero()) {
                throw new IllegalArgumentException("opTimeout must be positive, got " + opTimeout);
            }
            if (watchdogInterval.isNegative() || watchdogInterval.isZero()) {
                throw new IllegalArgumentException("watchdogInterval must be positive, got " + watchdogInterval);
            }
        }

        /** 2 min to form the group, 10 min per operation, watchdog every 100 ms. */
        public static Options defaults() {
            return new Options(Duration.ofMinutes(2), Duration.ofMinutes(10), Duration.ofMillis(100));
        }
    }

    private record Failure(Kind kind, String reason) {}

    private record InFlight(CudaEvent done, String op, long startNanos) {}

    private final int rank;
    private final int size;
    private final long epoch;
    private final int device;
    private final Options options;
    private final CudaStream stream;
    private final ncclComm comm;
    private final DevicePtr scratch; // [1] F32, for barrier()
    private final Object ncclLock = new Object(); // guards every NCCL call and commAlive
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>(); // guarded by itself
    private final ArrayDeque<CudaEvent> idleEvents = new ArrayDeque<>(); // guarded by inFlight
    private final Thread watchdog;
    private boolean commAlive; // guarded by ncclLock
    private volatile Failure failure;
    private volatile boolean closed;

    private NcclCommunicator(
            int rank,
            int size,
            long epoch,
            int device,
            Options options,
            CudaStream stream,
            ncclComm comm,
            DevicePtr scratch) {
        this.rank = rank;
        this.size = size;
        this.epoch = epoch;
        this.device = device;
        this.options = options;
        this.stream = stream;
        this.comm = comm;
        this.scratch = scratch;
        this.commAlive = true;
        this.watchdog = new Thread(this::watch, "nccl-watchdog-r" + rank + "-e" + epoch);
        this.watchdog.setDaemon(true);
        this.watchdog.start();
    }

    /**
     * Joins the group {@code id} as {@code rank} of {@code size} on CUDA device {@code device}. Every
     * rank must call this with the same id and size; returns when the group is formed.
     */
    public static NcclCommunicator create(
            NcclUniqueId id, int rank, int size, long epoch, int device, Options options) {
        return create(id, rank, size, epoch, device, options, () -> false);
    }

    /**
     * As {@link #create(NcclUniqueId, int, int, long, int, Options)}, and {@code cancelled} is polled while
     * the group forms: once it answers true (the mesh was left, e.g. a peer died mid-rendezvous) the
     * half-formed communicator is aborted (ncclCommAbort) and this throws CommException(ABORTED).
     */
    public static NcclCommunicator create(
            NcclUniqueId id,
            int rank,
            int size,
            long epoch,
            int device,
            Options options,
            java.util.function.BooleanSupplier cancelled) {
        NativeLibs.require(NativeLibs.Lib.NCCL);
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("NCCL rank " + rank + " of group size " + size + " is out of range");
        }
        String who = "rank " + rank + " of " + size + " (epoch " + epoch + ", cuda:" + device + ")";
        CudaDevice.setCurrent(device);
        CudaStream stream = CudaStream.create();
        DevicePtr scratch = null;
        ncclComm comm = new ncclComm();
        boolean ok = false;
        try {
            Pointer p = new Pointer();
            int crc = cudart.cudaMalloc(p, 256);
            if (crc != cudart.cudaSuccess) {
                throw new CommException(
                        Kind.NATIVE_ERROR, who + ": cudaMalloc of the barrier scratch failed: error " + crc);
            }
            scratch = new DevicePtr(p.address(), 256);
            // config and id stay allocated until init has finished, in case NCCL's background init
            // job reads them after ncclCommInitRankConfig returned.
            try (ncclConfig_t config = defaultConfig();
                    ncclUniqueId nativeId = id.toNative()) {
                config.blocking(0);
                int rc = ncclCommInitRankConfig(comm, size, nativeId, rank, config);
                if (rc != ncclSuccess && rc != ncclInProgress) {
                    if (!comm.isNull()) ncclCommAbort(comm);
                    throw new CommException(
                            Kind.NATIVE_ERROR, who + ": ncclCommInitRankConfig failed: " + errorText(rc, comm));
                }
                // Non-blocking init: poll until the group has formed, abort on error or timeout.
                long deadline = System.nanoTime() + options.initTimeout().toNanos();
                int[] state = {ncclInProgress};
                long sleep = 1_000;
                while (true) {
                    rc = ncclCommGetAsyncError(comm, state);
                    if (rc != ncclSuccess) state[0] = rc;
                    if (state[0] != ncclInProgress) break;
                    if (cancelled.getAsBoolean()) {
                        ncclCommAbort(comm);
                        throw new CommException(
                                Kind.ABORTED,
                                who + ": communicator init cancelled (mesh epoch " + epoch + " was left)");
                    }
                    if (System.nanoTime() > deadline) {
                        ncclCommAbort(comm);
                        throw new CommException(
                                Kind.TIMEOUT,
                                who + ": communicator init did not complete within "
                                        + options.initTimeout().toMillis() + " ms; do all " + size
                                        + " ranks call init with the same unique id " + id + "?");
                    }
                    LockSupport.parkNanos(sleep);
                    sleep = Math.min(sleep * 2, 10_000_000);
                }
                if (state[0] != ncclSuccess) {
                    String text = errorText(state[0], comm);
                    ncclCommAbort(comm);
                    throw new CommException(Kind.NATIVE_ERROR, who + ": communicator init failed: " + text);
                }
            }
            NcclCommunicator c = new NcclCommunicator(rank, size, epoch, device, options, stream, comm, scratch);
            ok = true;
            return c;
        } finally {
            if (!ok) {
                if (scratch != null) cudart.cudaFree(scratch);
                stream.close();
            }
        }
    }

    /** NCCL_CONFIG_INITIALIZER: size, magic, header version, every field "undefined". */
    private static ncclConfig_t defaultConfig() {
        ncclConfig_t c = new ncclConfig_t();
        c.size(Loader.sizeof(ncclConfig_t.class));
        c.magic(NCCL_API_MAGIC);
        c.version(NCCL_VERSION_CODE);
        int undef = Integer.MIN_VALUE; // NCCL_CONFIG_UNDEF_INT; pointers stay NULL (NCCL_CONFIG_UNDEF_PTR)
        c.blocking(undef).cgaClusterSize(undef).minCTAs(undef).maxCTAs(undef);
        c.splitShare(undef).trafficClass(undef).collnetEnable(undef).CTAPolicy(undef);
        c.shrinkShare(undef).nvlsCTAs(undef).nChannelsPerNetPeer(undef).nvlinkCentricSched(undef);
        c.graphUsageMode(undef).numRmaCtx(undef);
        return c;
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

    /** CUDA device of this rank. */
    public int device() {
        return device;
    }

    /** The stream every operation is enqueued on; order other work against it with events. */
    public CudaStream stream() {
        return stream;
    }

    /** The version of the NCCL library actually loaded, e.g. 22703. */
    public static int libraryVersion() {
        NativeLibs.require(NativeLibs.Lib.NCCL);
        int[] v = new int[1];
        int rc = ncclGetVersion(v);
        if (rc != ncclSuccess) throw new CommException(Kind.NATIVE_ERROR, "ncclGetVersion: " + errorText(rc, null));
        return v[0];
    }

    // ---- collectives -------------------------------------------------------------------------

    @Override
    public void allReduce(Pointer buf, long elems, DType dtype, ReduceOp op) {
        String name = "allReduce(" + elems + " " + dtype + " " + op + ")";
        checkBuffer(name, "buf", buf, dtype.bytesFor(elems));
        enqueue(name, () -> ncclAllReduce(buf, buf, elems, ncclType(dtype), ncclOp(op), comm, stream.handle()));
    }

    @Override
    public void reduceScatter(Pointer send, Pointer recv, long recvElems, DType dtype, ReduceOp op) {
        String name = "reduceScatter(" + recvElems + " " + dtype + " " + op + " per rank)";
        checkBuffer(name, "send", send, dtype.bytesFor(recvElems * size));
        checkBuffer(name, "recv", recv, dtype.bytesFor(recvElems));
        enqueue(
                name,
                () -> ncclReduceScatter(send, recv, recvElems, ncclType(dtype), ncclOp(op), comm, stream.handle()));
    }

    @Override
    public void allGather(Pointer send, Pointer recv, long sendElems, DType dtype) {
        String name = "allGather(" + sendElems + " " + dtype + " per rank)";
        checkBuffer(name, "send", send, dtype.bytesFor(sendElems));
        checkBuffer(name, "recv", recv, dtype.bytesFor(sendElems * size));
        enqueue(name, () -> ncclAllGather(send, recv, sendElems, ncclType(dtype), comm, stream.handle()));
    }

    @Override
    public void broadcast(Pointer buf, long elems, DType dtype, int root) {
        String name = "broadcast(" + elems + " " + dtype + " from " + root + ")";
        checkPeer(name, root);
        checkBuffer(name, "buf", buf, dtype.bytesFor(elems));
        enqueue(name, () -> ncclBroadcast(buf, buf, elems, ncclType(dtype), root, comm, stream.handle()));
    }

    /** Point-to-point send, wrapped in its own group (nest inside {@link #group} to pair with recv). */
    @Override
    public void send(Pointer buf, long elems, DType dtype, int peer) {
        String name = "send(" + elems + " " + dtype + " to " + peer + ")";
        checkPeer(name, peer);
        checkBuffer(name, "buf", buf, dtype.bytesFor(elems));
        enqueueGrouped(name, () -> ncclSend(buf, elems, ncclType(dtype), peer, comm, stream.handle()));
    }

    @Override
    public void recv(Pointer buf, long elems, DType dtype, int peer) {
        String name = "recv(" + elems + " " + dtype + " from " + peer + ")";
        checkPeer(name, peer);
        checkBuffer(name, "buf", buf, dtype.bytesFor(elems));
        enqueueGrouped(name, () -> ncclRecv(buf, elems, ncclType(dtype), peer, comm, stream.handle()));
    }

    /**
     * Runs {@code ops} (sends, recvs, collectives of this communicator) inside one
     * ncclGroupStart/End, so matching send/recv pairs, e.g. an exchange with a neighbour or with
     * oneself, cannot deadlock.
     */
    public void group(Runnable ops) {
        String name = "group";
        ensureUsable(name);
        checkNccl(name + " start", callLocked(name, NcclCommunicator::groupStart));
        boolean ended = false;
        try {
            ops.run();
            ended = true;
            enqueue(name + " end", NcclCommunicator::groupEnd);
        } finally {
            if (!ended) {
                // close the group so this thread's NCCL group depth is balanced, then report the error
                synchronized (ncclLock) {
                    if (commAlive) ncclGroupEnd();
                }
            }
        }
    }

    /** NCCL has no barrier: an all-reduce of one float, then wait for it. */
    @Override
    public void barrier() {
        allReduce(scratch.slice(0, 4), 1, DType.F32, ReduceOp.SUM);
        synchronize();
    }

    /** Waits until everything enqueued on stream() is done, failing fast on abort, error or timeout. */
    @Override
    public void synchronize() {
        String name = "synchronize";
        ensureUsable(name);
        long start = System.nanoTime();
        long deadline = start + options.opTimeout().toNanos();
        long sleep = 0;
        while (true) {
            int rc = cudart.cudaStreamQuery(stream.handle());
            if (rc == cudart.cudaSuccess) {
                reapCompleted();
                ensureUsable(name);
                checkAsyncError(name);
                return;
            }
            if (rc != cudart.cudaErrorNotReady) {
                fail(Kind.NATIVE_ERROR, name + ": CUDA error on the stream: cudaError " + rc);
            }
            ensureUsable(name);
            if (System.nanoTime() > deadline) {
                fail(
                        Kind.TIMEOUT,
                        name + ": stream not idle after " + options.opTimeout().toMillis() + " ms" + oldestInFlight());
            }
            if (sleep == 0) {
                Thread.onSpinWait();
                if (System.nanoTime() - start > 50_000) sleep = 10_000;
            } else {
                LockSupport.parkNanos(sleep);
                sleep = Math.min(sleep * 2, 1_000_000);
            }
        }
    }

    /** Aborts the communicator (mesh gone): every later call fails with CommException(ABORTED). */
    @Override
    public void abort(String reason) {
        abortWith(Kind.ABORTED, "aborted: " + reason);
    }

    /** True once aborted, timed out or failed. */
    public boolean isAborted() {
        return failure != null;
    }

    @Override
    public void close() {
        if (closed) return;
        // Drain politely when healthy: wait for the stream, then finalize and destroy.
        if (failure == null) {
            try {
                synchronize();
                finalizeAndDestroy();
            } catch (CommException e) {
                // already aborted by fail(); nothing left to release on the NCCL side
            }
        } else {
            abortWith(Kind.ABORTED, "closed");
        }
        closed = true;
        watchdog.interrupt();
        try {
            watchdog.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (inFlight) {
            for (InFlight f : inFlight) f.done().close();
            inFlight.clear();
            for (CudaEvent e : idleEvents) e.close();
            idleEvents.clear();
        }
        CudaDevice.setCurrent(device);
        cudart.cudaStreamSynchronize(stream.handle()); // aborted kernels exit; never blocks on peers
        cudart.cudaFree(scratch);
        stream.close();
    }

    @Override
    public String toString() {
        return "NcclCommunicator[" + who() + (failure == null ? "" : ", " + failure.kind()) + "]";
    }

    // ---- internals ---------------------------------------------------------------------------

    private interface NcclCall {
        int call();
    }

    private static int groupStart() {
        return ncclGroupStart();
    }

    private static int groupEnd() {
        return ncclGroupEnd();
    }

    private String who() {
        return "rank " + rank + " of " + size + " (epoch " + epoch + ", cuda:" + device + ")";
    }

    private void enqueueGrouped(String name, NcclCall call) {
        ensureUsable(name);
        checkNccl(name + " group start", callLocked(name, NcclCommunicator::groupStart));
        int rc;
        try {
            rc = callLocked(name, call);
        } catch (CommException e) {
            synchronized (ncclLock) {
                if (commAlive) ncclGroupEnd();
            }
            throw e;
        }
        if (rc != ncclSuccess && rc != ncclInProgress) {
            callLocked(name, NcclCommunicator::groupEnd);
            checkNccl(name, rc);
        }
        enqueue(name, NcclCommunicator::groupEnd);
    }

    /** Calls NCCL, waits out ncclInProgress, records an event for the watchdog. */
    private void enqueue(String name, NcclCall call) {
        ensureUsable(name);
        CudaDevice.setCurrent(device);
        int rc = callLocked(name, call);
        if (rc == ncclInProgress) rc = waitNotInProgress(name);
        checkNccl(name, rc);
        track(name);
    }

    private int callLocked(String name, NcclCall call) {
        synchronized (ncclLock) {
            if (!commAlive) throw refused(name);
            return call.call();
        }
    }

    private int waitNotInProgress(String name) {
        long deadline = System.nanoTime() + options.opTimeout().toNanos();
        int[] state = {ncclInProgress};
        long sleep = 0;
        long start = System.nanoTime();
        while (true) {
            synchronized (ncclLock) {
                if (!commAlive) throw refused(name);
                int rc = ncclCommGetAsyncError(comm, state);
                if (rc != ncclSuccess) return rc;
            }
            if (state[0] != ncclInProgress) return state[0];
            if (System.nanoTime() > deadline) {
                fail(
                        Kind.TIMEOUT,
                        name + ": still being enqueued after "
                                + options.opTimeout().toMillis() + " ms");
            }
            if (sleep == 0) {
                Thread.onSpinWait();
                if (System.nanoTime() - start > 50_000) sleep = 10_000;
            } else {
                LockSupport.parkNanos(sleep);
                sleep = Math.min(sleep * 2, 1_000_000);
            }
        }
    }

    private void checkNccl(String name, int rc) {
        if (rc == ncclSuccess || rc == ncclInProgress) return;
        String text;
        synchronized (ncclLock) {
            text = errorText(rc, commAlive ? comm : null);
        }
        if (rc == ncclInvalidArgument || rc == ncclInvalidUsage) {
            // The call was refused before anything was enqueued; the communicator stays usable.
            throw new CommException(Kind.INVALID_ARGUMENT, who() + ": " + name + ": " + text);
        }
        fail(Kind.NATIVE_ERROR, name + ": " + text);
    }

    private void checkAsyncError(String name) {
        int[] state = {ncclSuccess};
        int rc;
        synchronized (ncclLock) {
            if (!commAlive) throw refused(name);
            rc = ncclCommGetAsyncError(comm, state);
        }
        if (rc != ncclSuccess) state[0] = rc;
        if (state[0] != ncclSuccess && state[0] != ncclInProgress) {
            fail(Kind.NATIVE_ERROR, name + ": asynchronous NCCL error: " + errorText(state[0], null));
        }
    }

    /** Records a completion event for the watchdog. */
    private void track(String name) {
        CudaEvent ev;
        synchronized (inFlight) {
            ev = idleEvents.poll();
        }
        if (ev == null) ev = CudaEvent.create(false);
        ev.record(stream);
        synchronized (inFlight) {
            inFlight.add(new InFlight(ev, name, System.nanoTime()));
        }
    }

    private void reapCompleted() {
        synchronized (inFlight) {
            while (!inFlight.isEmpty() && inFlight.peek().done().isDone()) {
                idleEvents.add(inFlight.poll().done());
            }
        }
    }

    private String oldestInFlight() {
        synchronized (inFlight) {
            InFlight f = inFlight.peek();
            if (f == null) return "";
            return "; oldest unfinished op: " + f.op() + ", enqueued "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - f.startNanos()) + " ms ago";
        }
    }

    /** The watchdog: async errors and over-age operations abort the communicator. */
    private void watch() {
        try {
            CudaDevice.setCurrent(device);
        } catch (RuntimeException e) {
            // the device is gone; the next user call reports the CUDA error itself
        }
        long interval = options.watchdogInterval().toNanos();
        while (!closed && failure == null) {
            LockSupport.parkNanos(interval);
            if (closed || failure != null || Thread.interrupted()) break;
            try {
                int[] state = {ncclSuccess};
                int rc;
                synchronized (ncclLock) {
                    if (!commAlive) break;
                    rc = ncclCommGetAsyncError(comm, state);
                }
                if (rc != ncclSuccess) state[0] = rc;
                if (state[0] != ncclSuccess && state[0] != ncclInProgress) {
                    abortWith(
                            Kind.NATIVE_ERROR,
                            "watchdog: asynchronous NCCL error: " + errorText(state[0], null) + oldestInFlight());
                    break;
                }
                InFlight oldest;
                synchronized (inFlight) {
                    while (!inFlight.isEmpty() && inFlight.peek().done().isDone()) {
                        idleEvents.add(inFlight.poll().done());
                    }
                    oldest = inFlight.peek();
                }
                if (oldest != null
                        && System.nanoTime() - oldest.startNanos()
                                > options.opTimeout().toNanos()) {
                    abortWith(
                            Kind.TIMEOUT,
                            "watchdog: " + oldest.op() + " not complete after "
                                    + options.opTimeout().toMillis() + " ms");
                    break;
                }
            } catch (RuntimeException e) {
                abortWith(Kind.NATIVE_ERROR, "watchdog: " + e.getMessage());
                break;
            }
        }
    }

    /** Records the first failure and aborts the NCCL communicator once. */
    private void abortWith(Kind kind, String reason) {
        synchronized (ncclLock) {
            if (failure == null) failure = new Failure(kind, reason);
            if (commAlive) {
                commAlive = false;
                ncclCommAbort(comm);
            }
        }
    }

    private void fail(Kind kind, String reason) {
        abortWith(kind, reason);
        Failure f = failure;
        throw new CommException(
                f.kind(),
                who() + ": " + reason
                        + (f.reason().equals(reason) ? "" : " (communicator already failed: " + f.reason() + ")"));
    }

    private void finalizeAndDestroy() {
        synchronized (ncclLock) {
            if (!commAlive) return;
            int rc = ncclCommFinalize(comm);
            if (rc != ncclSuccess && rc != ncclInProgress) {
                commAlive = false;
                ncclCommAbort(comm);
                return;
            }
        }
        int rc = waitNotInProgress("finalize");
        synchronized (ncclLock) {
            if (!commAlive) return;
            commAlive = false;
            if (rc == ncclSuccess) ncclCommDestroy(comm);
            else ncclCommAbort(comm);
        }
    }

    private void ensureUsable(String name) {
        if (failure != null || closed) throw refused(name);
    }

    private CommException refused(String name) {
        Failure f = failure;
        if (f == null) {
            return new CommException(Kind.ABORTED, who() + ": " + name + " on a closed communicator");
        }
        return new CommException(f.kind(), who() + ": " + name + " refused: " + f.reason());
    }

    private void checkPeer(String name, int peer) {
        if (peer < 0 || peer >= size) {
            throw new CommException(
                    Kind.INVALID_ARGUMENT, who() + ": " + name + ": peer " + peer + " is not in [0, " + size + ")");
        }
    }

    private void checkBuffer(String name, String arg, Pointer p, long bytes) {
        if (p == null || p.isNull()) {
            throw new CommException(Kind.INVALID_ARGUMENT, who() + ": " + name + ": " + arg + " is a null pointer");
        }
        if (p.position() != 0) {
            throw new CommException(
                    Kind.INVALID_ARGUMENT,
                    who() + ": " + name + ": " + arg + " has position " + p.position()
                            + "; pass a DevicePtr slice instead");
        }
        long have = DevicePtr.regionBytes(p);
        if (have >= 0 && have < bytes) {
            throw new CommException(
                    Kind.INVALID_ARGUMENT,
                    who() + ": " + name + ": " + arg + " covers " + have + " bytes, the operation needs " + bytes);
        }
    }

    static int ncclType(DType t) {
        return switch (t) {
            case F32 -> ncclFloat32;
            case BF16 -> ncclBfloat16;
            case F16 -> ncclFloat16;
        };
    }

    static int ncclOp(ReduceOp op) {
        return switch (op) {
            case SUM -> ncclSum;
            case AVG -> ncclAvg;
            case MAX -> ncclMax;
        };
    }

    /** "ncclX (n): text; last error: ..." for an ncclResult_t. */
    static String errorText(int rc, ncclComm comm) {
        String s;
        try {
            BytePointer p = ncclGetErrorString(rc);
            s = (p == null ? "" : p.getString()) + " (ncclResult " + rc + ")";
            BytePointer last = ncclGetLastError(comm);
            String l = last == null ? "" : last.getString();
            if (!l.isBlank()) s += "; last NCCL error: " + l;
        } catch (Throwable t) {
            s = "ncclResult " + rc;
        }
        return s;
    }
}
