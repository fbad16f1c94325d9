// A typed block of device memory from a DeviceMemoryPool: pointer + elems + dtype, with copies from
// and to JavaCPP host pointers (synchronous, or asynchronous on a stream; asynchronous copies
// overlap only when the host side is pinned, see PinnedHostBuffer).
//
// Guarantees: every copy is bounds-checked against both sides in bytes, with both sizes in the
// message; close() returns the block to its pool exactly once.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import dev.shoal.comm.DType;
import org.bytedeco.javacpp.Pointer;

public final class DeviceBuffer implements AutoCloseable {
    private final DeviceMemoryPool pool;
    private final DevicePtr ptr; // [elems] of dtype
    private final long elems;
    private final DType dtype;
    private boolean closed;

    private DeviceBuffer(DeviceMemoryPool pool, DevicePtr ptr, long elems, DType dtype) {
        this.pool = pool;
        this.ptr = ptr;
        this.elems = elems;
        this.dtype = dtype;
    }

    /** {@code elems} uninitialised elements of {@code dtype} from {@code pool}. */
    public static DeviceBuffer allocate(DeviceMemoryPool pool, long elems, DType dtype) {
        if (elems <= 0) throw new IllegalArgumentException("device buffer of " + elems + " " + dtype + " elements");
        return new DeviceBuffer(pool, pool.allocate(dtype.bytesFor(elems)), elems, dtype);
    }

    /** The device pointer covering the whole buffer. */
    public DevicePtr ptr() {
        ensureOpen();
        return ptr;
    }

    /** Device pointer to element {@code elemOffset}, covering {@code elemCount} elements. */
    public DevicePtr ptr(long elemOffset, long elemCount) {
        ensureOpen();
        return ptr.slice(dtype.bytesFor(elemOffset), dtype.bytesFor(elemCount));
    }

    public long elems() {
        return elems;
    }

    public long bytes() {
        return dtype.bytesFor(elems);
    }

    public DType dtype() {
        return dtype;
    }

    /**
     * Copies {@code bytes()} from host memory {@code src} into this buffer; returns when the data is
     * on the device. (A plain cudaMemcpy from pageable memory may return before the DMA lands, and
     * does not order against non-blocking streams, so the copy is followed by a device sync.)
     * Pending work on other streams that reads or writes this buffer must be synchronized first.
     */
    public void copyFromHost(Pointer src) {
        checkHost(src, "copyFromHost");
        CudaCheck.check(cudaMemcpy(ptr(), src, bytes(), cudaMemcpyHostToDevice), "cudaMemcpy H2D " + bytes() + " B");
        CudaCheck.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize after H2D copy");
    }

    /**
     * Copies this buffer into host memory {@code dst}; returns when done. Work on non-blocking
     * streams that writes this buffer must be synchronized first (this copy does not wait for it).
     */
    public void copyToHost(Pointer dst) {
        checkHost(dst, "copyToHost");
        CudaCheck.check(cudaMemcpy(dst, ptr(), bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy D2H " + bytes() + " B");
    }

    /** Enqueues a host-to-device copy on {@code stream}; {@code src} must stay valid until it ran. */
    public void copyFromHostAsync(Pointer src, CudaStream stream) {
        checkHost(src, "copyFromHostAsync");
        CudaCheck.check(
                cudaMemcpyAsync(ptr(), src, bytes(), cudaMemcpyHostToDevice, stream.handle()),
                "cudaMemcpyAsync H2D " + bytes() + " B");
    }

    /** Enqueues a device-to-host copy on {@code stream}; read {@code dst} after the stream synchronized. */
    public void copyToHostAsync(Pointer dst, CudaStream stream) {
        checkHost(dst, "copyToHostAsync");
        CudaCheck.check(
                cudaMemcpyAsync(dst, ptr(), bytes(), cudaMemcpyDeviceToHost, stream.handle()),
                "cudaMemcpyAsync D2H " + bytes() + " B");
    }

    /** Enqueues a device-to-device copy of {@code src} (same dtype and length) into this buffer. */
    public void copyFrom(DeviceBuffer src, CudaStream stream) {
        if (src.dtype != dtype || src.elems != elems) {
            throw new IllegalArgumentException("device copy of " + src.elems + " " + src.dtype + " into " + elems + " "
                    + dtype + ": shapes differ");
        }
        CudaCheck.check(
                cudaMemcpyAsync(ptr(), src.ptr(), bytes(), cudaMemcpyDeviceToDevice, stream.handle()),
                "cudaMemcpyAsync D2D " + bytes() + " B");
    }

    /** Enqueues zero-filling the buffer on {@code stream}. */
    public void zero(CudaStream stream) {
        CudaCheck.check(cudaMemsetAsync(ptr(), 0, bytes(), stream.handle()), "cudaMemsetAsync " + bytes() + " B");
    }

    /** Returns the memory to the pool. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        pool.free(ptr.address());
    }

    private void checkHost(Pointer host, String op) {
        ensureOpen();
        if (host == null || host.isNull()) throw new IllegalArgumentException(op + ": host pointer is null");
        if (host.position() != 0) {
            throw new IllegalArgumentException(op + ": host pointer has position " + host.position()
                    + "; pass a pointer at the first element (e.g. new FloatPointer(p).position(0) at a new address)");
        }
        long hostBytes = (host.limit() > 0 ? host.limit() : host.capacity()) * (long) host.sizeof();
        if (host.capacity() > 0 && hostBytes < bytes()) {
            throw new IllegalArgumentException(op + ": host side has " + hostBytes + " bytes, device buffer has "
                    + bytes() + " (" + elems + " " + dtype + ")");
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("device buffer already returned to its pool");
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + elems + " " + dtype + " at " + ptr + "]";
    }
}
