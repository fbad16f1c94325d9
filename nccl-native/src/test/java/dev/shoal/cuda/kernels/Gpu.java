// Test support for the GPU kernel tests: device buffers through raw cudart calls, uploads in f32,
// bf16 or int32, downloads to double, poisoned outputs (all-ones bytes = NaN) so unwritten elements
// fail, and a synchronise-and-check helper. Skips (assumption) when no GPU is visible.
package dev.shoal.cuda.kernels;

import static org.bytedeco.cuda.global.cudart.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.comm.DType;
import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.NativeLibs;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

final class Gpu {
    private Gpu() {}

    /** The kernel library of device 0, or a skipped test with the reason. */
    static KernelLibrary lib() {
        assumeTrue(
                NativeLibs.available(NativeLibs.Lib.NVRTC),
                () -> "GPU test skipped: " + NativeLibs.unavailableReason(NativeLibs.Lib.NVRTC));
        return KernelLibrary.forDevice(0);
    }

    /** One cudaMalloc'd buffer. */
    static final class Buf implements AutoCloseable {
        final Pointer ptr;
        final long bytes;

        Buf(long bytes) {
            this.bytes = bytes;
            this.ptr = new Pointer();
            check(cudaMalloc(ptr, Math.max(bytes, 4)), "cudaMalloc " + bytes);
        }

        long addr() {
            return ptr.address();
        }

        @Override
        public void close() {
            cudaFree(ptr);
        }
    }

    static void check(int rc, String what) {
        assertEquals(
                0,
                rc,
                what + " failed: cudaError " + rc + " " + cudaGetErrorString(rc).getString());
    }

    /** Waits for the device and fails on any launch or execution error. */
    static void sync() {
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        check(cudaGetLastError(), "cudaGetLastError");
    }

    /** A buffer of {@code n} elements of {@code t}, every byte 0xFF (NaN for f32 and bf16). */
    static Buf poisoned(DType t, long n) {
        Buf b = new Buf(t.bytesFor(n));
        check(cudaMemset(b.ptr, 0xFF, b.bytes), "cudaMemset");
        return b;
    }

    static Buf zeros(DType t, long n) {
        Buf b = new Buf(t.bytesFor(n));
        check(cudaMemset(b.ptr, 0, b.bytes), "cudaMemset");
        return b;
    }

    /** Uploads v as f32 or bf16 (v should already be representable: see {@link #quantize}). */
    static Buf upload(DType t, double[] v) {
        Buf b = new Buf(t.bytesFor(v.length));
        if (t == DType.F32) {
            float[] f = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                f[i] = (float) v[i];
            }
            try (FloatPointer h = new FloatPointer(f)) {
                check(cudaMemcpy(b.ptr, h, b.bytes, cudaMemcpyHostToDevice), "upload f32");
            }
        } else {
            short[] s = new short[v.length];
            for (int i = 0; i < v.length; i++) {
                s[i] = Bf16.toBits((float) v[i]);
            }
            try (ShortPointer h = new ShortPointer(s)) {
                check(cudaMemcpy(b.ptr, h, b.bytes, cudaMemcpyHostToDevice), "upload bf16");
            }
        }
        return b;
    }

    /** Uploads raw floats (bit patterns kept, NaN payloads included). */
    static Buf uploadFloats(float[] v) {
        Buf b = new Buf(4L * v.length);
        try (FloatPointer h = new FloatPointer(v)) {
            check(cudaMemcpy(b.ptr, h, b.bytes, cudaMemcpyHostToDevice), "upload f32 bits");
        }
        return b;
    }

    static Buf uploadInts(int[] v) {
        Buf b = new Buf(4L * v.length);
        try (IntPointer h = new IntPointer(v)) {
            check(cudaMemcpy(b.ptr, h, b.bytes, cudaMemcpyHostToDevice), "upload i32");
        }
        return b;
    }

    static double[] download(DType t, Buf b, int n) {
        sync();
        double[] out = new double[n];
        if (t == DType.F32) {
            try (FloatPointer h = new FloatPointer(n)) {
                check(cudaMemcpy(h, b.ptr, 4L * n, cudaMemcpyDeviceToHost), "download f32");
                float[] f = new float[n];
                h.get(f);
                for (int i = 0; i < n; i++) {
                    out[i] = f[i];
                }
            }
        } else {
            try (ShortPointer h = new ShortPointer(n)) {
                check(cudaMemcpy(h, b.ptr, 2L * n, cudaMemcpyDeviceToHost), "download bf16");
                short[] s = new short[n];
                h.get(s);
                for (int i = 0; i < n; i++) {
                    out[i] = Bf16.fromBits(s[i]);
                }
            }
        }
        return out;
    }

    /** Raw 16-bit words of a bf16 buffer. */
    static short[] downloadBits(Buf b, int n) {
        sync();
        try (ShortPointer h = new ShortPointer(n)) {
            check(cudaMemcpy(h, b.ptr, 2L * n, cudaMemcpyDeviceToHost), "download bits");
            short[] s = new short[n];
            h.get(s);
            return s;
        }
    }

    /** Rounds values to what the dtype can hold, so the reference sees the GPU's exact inputs. */
    static double[] quantize(DType t, double[] v) {
        double[] q = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            q[i] = t == DType.F32 ? (float) v[i] : Bf16.round((float) v[i]);
        }
        return q;
    }

    static double[] randn(Random r, int n, double scale) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextGaussian() * scale;
        }
        return a;
    }

    /** Relative L2 tolerance for outputs stored in {@code t}. */
    static double tol(DType t) {
        return t == DType.F32 ? 2e-6 : 8e-3;
    }
}
