// Reduce's address path (OpenBLAS saxpy/sscal for F32 SUM/AVG) against its Java block path: the same
// bits for every aliasing case the backends use, on sizes that cross the BLAS block.
package dev.shoal.runtime.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

class ReduceTest {
    private static FloatPointer random(long n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        FloatPointer p = new FloatPointer(n);
        for (long i = 0; i < n; i++) p.put(i, (float) (r.nextGaussian() * Math.exp(r.nextDouble(-20, 20))));
        return p;
    }

    private static FloatPointer copy(FloatPointer src, long n) {
        FloatPointer p = new FloatPointer(n);
        HostMemory.copy(p.address(), src.address(), n * Float.BYTES);
        return p;
    }

    private static void assertSameBits(FloatPointer want, FloatPointer got, long n, String what) {
        for (long i = 0; i < n; i++) {
            assertEquals(
                    Float.floatToRawIntBits(want.get(i)),
                    Float.floatToRawIntBits(got.get(i)),
                    what + " at " + i + ": " + want.get(i) + " vs " + got.get(i));
        }
    }

    @Test
    void blasPathHasTheJavaPathsBits() {
        for (long n : new long[] {1, 7, Reduce.BLAS_BLOCK - 1, Reduce.BLAS_BLOCK + 5, 3 * Reduce.BLAS_BLOCK + 11}) {
            for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.AVG}) {
                FloatPointer a = random(n, 1), b = random(n, 2);
                long bytes = n * Float.BYTES;
                // Java path: dst = a op b, then finish (AVG over 3 ranks).
                FloatPointer want = new FloatPointer(n);
                Reduce.combine(
                        HostMemory.view(want.address(), bytes),
                        HostMemory.view(a.address(), bytes),
                        HostMemory.view(b.address(), bytes),
                        n,
                        DType.F32,
                        op);
                Reduce.finish(HostMemory.view(want.address(), bytes), n, DType.F32, op, 3);
                // Address path, dst distinct from both operands.
                FloatPointer dst = new FloatPointer(n);
                Reduce.combine(dst.address(), a.address(), b.address(), n, DType.F32, op);
                Reduce.finish(dst.address(), n, DType.F32, op, 3);
                assertSameBits(want, dst, n, op + " n " + n + " dst distinct");
                // dst == a (in-place accumulate) and dst == b.
                FloatPointer a2 = copy(a, n);
                Reduce.accumulate(a2.address(), b.address(), n, DType.F32, op);
                Reduce.finish(a2.address(), n, DType.F32, op, 3);
                assertSameBits(want, a2, n, op + " n " + n + " dst == a");
                FloatPointer b2 = copy(b, n);
                Reduce.combine(b2.address(), a.address(), b2.address(), n, DType.F32, op);
                Reduce.finish(b2.address(), n, DType.F32, op, 3);
                assertSameBits(want, b2, n, op + " n " + n + " dst == b");
                for (FloatPointer p : new FloatPointer[] {a, b, want, dst, a2, b2}) p.close();
            }
        }
    }
}
