// Page-locked host memory (cudaMallocHost): the host side of fast, truly asynchronous copies.
// Views as bytes, floats and shorts (bf16 bit patterns) share the one allocation.
// Guarantees: close() frees it once; views are bounded to the allocation.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

public final class PinnedHostBuffer implements AutoCloseable {
    private final Pointer base; // [bytes]
    private final long bytes;
    private boolean closed;

    private PinnedHostBuffer(Pointer base, long bytes) {
        this.base = base;
        this.bytes = bytes;
    }

    /** {@code bytes} of pinned host memory. */
    public static PinnedHostBuffer allocate(long bytes) {
        NativeLibs.require();
        if (bytes <= 0) throw new IllegalArgumentException("pinned buffer of " + bytes + " bytes");
        Pointer p = new Pointer();
        CudaCheck.check(cudaMallocHost(p, bytes), "cudaMallocHost(" + bytes + " bytes)");
        return new PinnedHostBuffer(p, bytes);
    }

    public long bytes() {
        return bytes;
    }

    public BytePointer asBytes() {
        ensureOpen();
        return new BytePointer(base).capacity(bytes).limit(bytes);
    }

    public FloatPointer asFloats() {
        ensureOpen();
        return new FloatPointer(base).capacity(bytes / 4).limit(bytes / 4);
    }

    /** 16-bit view, for bf16 or f16 bit patterns. */
    public ShortPointer asShorts() {
        ensureOpen();
        return new ShortPointer(base).capacity(bytes / 2).limit(bytes / 2);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        CudaCheck.check(cudaFreeHost(base), "cudaFreeHost");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("pinned host buffer already freed");
    }
}
