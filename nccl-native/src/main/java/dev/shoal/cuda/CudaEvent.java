// A CUDA event: marks a point in a stream, for ordering between streams and for GPU-side timing.
// Guarantees: elapsedMs() is measured by the GPU between two recorded, completed timing events.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import org.bytedeco.cuda.cudart.CUevent_st;

public final class CudaEvent implements AutoCloseable {
    private final CUevent_st handle;
    private final boolean timing;
    private boolean closed;

    private CudaEvent(CUevent_st handle, boolean timing) {
        this.handle = handle;
        this.timing = timing;
    }

    /** A new event; {@code timing} false makes it cheaper (ordering and completion checks only). */
    public static CudaEvent create(boolean timing) {
        NativeLibs.require();
        CUevent_st e = new CUevent_st();
        CudaCheck.check(
                cudaEventCreateWithFlags(e, timing ? cudaEventDefault : cudaEventDisableTiming),
                "cudaEventCreateWithFlags");
        return new CudaEvent(e, timing);
    }

    /** Records this event at the current end of {@code stream}. */
    public CudaEvent record(CudaStream stream) {
        ensureOpen();
        CudaCheck.check(cudaEventRecord(handle, stream.handle()), "cudaEventRecord");
        return this;
    }

    /** True once the recorded work has completed; never blocks. */
    public boolean isDone() {
        ensureOpen();
        int rc = cudaEventQuery(handle);
        if (rc == cudaErrorNotReady) return false;
        CudaCheck.check(rc, "cudaEventQuery");
        return true;
    }

    /** Blocks until the recorded work has completed. */
    public void synchronize() {
        ensureOpen();
        CudaCheck.check(cudaEventSynchronize(handle), "cudaEventSynchronize");
    }

    /** GPU time in milliseconds from {@code start} to {@code end}; waits for {@code end}. */
    public static float elapsedMs(CudaEvent start, CudaEvent end) {
        if (!start.timing || !end.timing) {
            throw new IllegalArgumentException("elapsedMs needs two events created with timing = true");
        }
        end.synchronize();
        float[] ms = new float[1];
        CudaCheck.check(cudaEventElapsedTime(ms, start.handle, end.handle), "cudaEventElapsedTime");
        return ms[0];
    }

    /** The native cudaEvent_t. */
    public CUevent_st handle() {
        ensureOpen();
        return handle;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        CudaCheck.check(cudaEventDestroy(handle), "cudaEventDestroy");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("CUDA event already closed");
    }
}
