// Element-wise reductions over off-heap buffers, for the CPU collective backends.
// Guarantees: F32 reduces in float; BF16 and F16 load to float, reduce, and round back to
// nearest-even once per call. The order of operands is the caller's, so results are deterministic.
package dev.shoal.runtime.comm;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.tensor.FloatFormats;
import java.nio.ByteBuffer;

public final class Reduce {
    private Reduce() {}

    /** acc[i] = acc[i] op x[i] for elems elements (AVG accumulates like SUM; see finish). */
    public static void accumulate(ByteBuffer acc, ByteBuffer x, long elems, DType dtype, ReduceOp op) {
        int n = Math.toIntExact(elems);
        switch (dtype) {
            case F32 -> {
                var a = acc.asFloatBuffer();
                var b = x.asFloatBuffer();
                if (op == ReduceOp.MAX) {
                    for (int i = 0; i < n; i++) a.put(i, Math.max(a.get(i), b.get(i)));
                } else {
                    for (int i = 0; i < n; i++) a.put(i, a.get(i) + b.get(i));
                }
            }
            case BF16, F16 -> {
                var a = acc.asShortBuffer();
                var b = x.asShortBuffer();
                for (int i = 0; i < n; i++) {
                    float u = toFloat(a.get(i), dtype);
                    float v = toFloat(b.get(i), dtype);
                    a.put(i, fromFloat(op == ReduceOp.MAX ? Math.max(u, v) : u + v, dtype));
                }
            }
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
                for (int i = 0; i < n; i++) a.put(i, a.get(i) * inv);
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
