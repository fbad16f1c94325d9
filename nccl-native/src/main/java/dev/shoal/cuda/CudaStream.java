// A CUDA stream (non-blocking with respect to the legacy default stream), owned by its creator.
// Guarantees: close() destroys it once; synchronize() throws CudaException on an asynchronous error.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import org.bytedeco.cuda.cudart.CUstream_st;

public final class CudaStream implements AutoCloseable {
    private final CUstream_st handle;
    private final int device;
    private boolean closed;

    private CudaStream(CUstream_st handle, int device) {
        this.handle = handle;
        this.device = device;
    }

    /** A new non-blocking stream on the current device. */
    public static CudaStream create() {
        NativeLibs.require();
        CUstream_st s = new CUstream_st();
        CudaCheck.check(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        return new CudaStream(s, CudaDevice.current());
    }

    /** The native cudaStream_t, for cuBLAS, NCCL and kernel launches. */
    public CUstream_st handle() {
        ensureOpen();
        return handle;
    }

    /** Device this stream was created on. */
    public int device() {
        return device;
    }

    /** Blocks until every operation enqueued so far has finished. */
    public void synchronize() {
        ensureOpen();
        CudaCheck.check(cudaStreamSynchronize(handle), "cudaStreamSynchronize");
    }

    /** True when all enqueued work is done; never blocks. */
    public boolean isDone() {
        ensureOpen();
        int rc = cudaStreamQuery(handle);
        if (rc == cudaErrorNotReady) return false;
        CudaCheck.check(rc, "cudaStreamQuery");
        return true;
    }

    /** Makes later work on this stream wait until {@code event} has completed. */
    public void waitFor(CudaEvent event) {
        ensureOpen();
        CudaCheck.check(cudaStreamWaitEvent(handle, event.handle(), 0), "cudaStreamWaitEvent");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        CudaCheck.check(cudaStreamDestroy(handle), "cudaStreamDestroy");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("CUDA stream already closed");
    }
}
