// Element-wise reductions over off-heap buffers, for the CPU collective backends.
// F32 SUM/AVG on raw addresses (the backends' path) runs through OpenBLAS saxpy (dst += 1·x; fused
// multiply-add by 1 rounds exactly as x + y) and sscal (AVG: ·1/n, as the loop below) on the native
// memory itself, in blocks of BLAS_BLOCK floats (below OpenBLAS's threading threshold, so the calling
// thread does all the work): one pass, no copy into the heap. Other cases:
// F32 runs in blocks: a block of each operand is bulk-copied into a thread-local float[] (a memcpy into
// L1), reduced there by a plain counted loop that C2 vectorises (SIMD add / max), and copied back.
// Element-wise get/put on NIO buffer views is not vectorised and measured 1.5–2× slower for MAX.
// Guarantees: F32 reduces in float; BF16 and F16 load to float, reduce, and round back to
// nearest-even once per call. The order of operands is the caller's, so results are deterministic;
// dst may be the same memory as a (in-place accumulate), never a partial overlap.
package dev.shoal.runtime.comm;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.tensor.FloatFormats;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

public final class Reduce {
    private Reduce() {}

    /** Floats per BLAS call: 32 KiB, below OpenBLAS's multi-threading threshold for level-1 calls. */
    static final int BLAS_BLOCK = 8192;

    /** A FloatPointer that is moved over raw addresses (one pair per thread, no garbage per call). */
    private static final class At extends FloatPointer {
        At() {
            super((Pointer) null);
        }

        At at(long address, long elems) {
            this.address = address;
            this.position = 0;
            this.limit = elems;
            this.capacity = elems;
            return this;
        }
    }

    private static final ThreadLocal<At[]> AT = ThreadLocal.withInitial(() -> new At[] {new At(), new At()});

    /** dst = a op b over elems elements at raw addresses; dst may equal a or b (AVG combines like SUM). */
    public static void combine(long dst, long a, long b, long elems, DType dtype, ReduceOp op) {
        if (dtype != DType.F32 || op == ReduceOp.MAX) {
            long bytes = dtype.bytesFor(elems);
            combine(
                    HostMemory.view(dst, bytes),
                    HostMemory.view(a, bytes),
                    HostMemory.view(b, bytes),
                    elems,
                    dtype,
                    op);
            return;
        }
        if (dst == b) { // a + b == b + a, bit for bit
            b = a;
            a = dst;
        }
        At[] p = AT.get();
        for (long off = 0; off < elems; off += BLAS_BLOCK) {
            int m = (int) Math.min(BLAS_BLOCK, elems - off);
            long bo = off * Float.BYTES;
            if (dst != a) HostMemory.copy(dst + bo, a + bo, (long) m * Float.BYTES);
            openblas_nolapack.cblas_saxpy(m, 1f, p[0].at(b + bo, m), 1, p[1].at(dst + bo, m), 1);
        }
    }

    /** acc = acc op x over elems elements at raw addresses (AVG accumulates like SUM; see finish). */
    public static void accumulate(long acc, long x, long elems, DType dtype, ReduceOp op) {
        combine(acc, acc, x, elems, dtype, op);
    }

    /** As {@link #finish(ByteBuffer, long, DType, ReduceOp, int)} at a raw address. */
    public static void finish(long acc, long elems, DType dtype, ReduceOp op, int groupSize) {
        if (op != ReduceOp.AVG) return;
        if (dtype != DType.F32) {
            finish(HostMemory.view(acc, dtype.bytesFor(elems)), elems, dtype, op, groupSize);
            return;
        }
        float inv = 1.0f / groupSize;
        At p = AT.get()[0];
        for (long off = 0; off < elems; off += BLAS_BLOCK) {
            int m = (int) Math.min(BLAS_BLOCK, elems - off);
            openblas_nolapack.cblas_sscal(m, inv, p.at(acc + off * Float.BYTES, m), 1);
        }
    }

    /** Floats per block: 3 × 16 KiB of scratch, inside L1/L2. */
    private static final int BLOCK = 4096;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][BLOCK]);

    /** acc[i] = acc[i] op x[i] for elems elements (AVG accumulates like SUM; see finish). */
    public static void accumulate(ByteBuffer acc, ByteBuffer x, long elems, DType dtype, ReduceOp op) {
        combine(acc, acc, x, elems, dtype, op);
    }

    /** dst[i] = a[i] op b[i] for elems elements (AVG combines like SUM; see finish). */
    public static void combine(ByteBuffer dst, ByteBuffer a, ByteBuffer b, long elems, DType dtype, ReduceOp op) {
        int n = Math.toIntExact(elems);
        switch (dtype) {
            case F32 -> combineF32(dst.asFloatBuffer(), a.asFloatBuffer(), b.asFloatBuffer(), n, op == ReduceOp.MAX);
            case BF16, F16 -> {
                var d = dst.asShortBuffer();
                var x = a.asShortBuffer();
                var y = b.asShortBuffer();
                for (int i = 0; i < n; i++) {
                    float u = toFloat(x.get(i), dtype);
                    float v = toFloat(y.get(i), dtype);
                    d.put(i, fromFloat(op == ReduceOp.MAX ? Math.max(u, v) : u + v, dtype));
                }
            }
        }
    }

    private static void combineF32(FloatBuffer dst, FloatBuffer a, FloatBuffer b, int n, boolean max) {
        float[][] s = SCRATCH.get();
        float[] x = s[0], y = s[1];
        for (int off = 0; off < n; off += BLOCK) {
            int m = Math.min(BLOCK, n - off);
            a.get(off, x, 0, m);
            b.get(off, y, 0, m);
            if (max) {
                for (int i = 0; i < m; i++) x[i] = Math.max(x[i], y[i]);
            } else {
                for (int i = 0; i < m; i++) x[i] += y[i];
            }
            dst.put(off, x, 0, m);
        }
    }

    /** Applies the final step of op to a fully reduced buffer: AVG divides by the group size. */
    public static void finish(ByteBuffer acc, long elems, DType dtype, ReduceOp op, int groupSize) {
        if (op != ReduceOp.AVG) return;
        int n = Math.toIntExact(elems);
        float inv = 1.0f / groupSize;
        switch (dtype) {
            case F32 -> {
                var a = acc.asFloatBuffer();
                float[] x = SCRATCH.get()[0];
                for (int off = 0; off < n; off += BLOCK) {
                    int m = Math.min(BLOCK, n - off);
                    a.get(off, x, 0, m);
                    for (int i = 0; i < m; i++) x[i] *= inv;
                    a.put(off, x, 0, m);
                }
            }
            case BF16, F16 -> {
                var a = acc.asShortBuffer();
                for (int i = 0; i < n; i++) a.put(i, fromFloat(toFloat(a.get(i), dtype) * inv, dtype));
            }
        }
    }

    static float toFloat(short bits, DType dtype) {
        return dtype == DType.BF16 ? FloatFormats.bf16ToF32(bits) : FloatFormats.f16ToF32(bits);
    }

    static short fromFloat(float v, DType dtype) {
        return dtype == DType.BF16 ? FloatFormats.f32ToBf16(v) : FloatFormats.f32ToF16(v);
    }
}
