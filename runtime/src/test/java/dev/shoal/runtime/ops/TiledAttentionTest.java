// The tiled (flash-style) attention against Attention's T×T path: forward and all three gradients agree
// within fp32 rounding on odd T and many block sizes (1, uneven last blocks, block >= T), with GQA and
// plain MHA; a finite-difference check of the tiled path itself; the shape-chosen dispatch of
// Attention; and bit-identical results on 1 and 3 threads.
package dev.shoal.runtime.ops;

import static dev.shoal.runtime.ops.GradCheck.assertWithin;
import static dev.shoal.runtime.ops.GradCheck.check;
import static dev.shoal.runtime.ops.GradCheck.randn;
import static dev.shoal.runtime.ops.GradCheck.weighted;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class TiledAttentionTest {
    private static final Compute CX = Compute.cpu(2);

    @AfterAll
    static void close() {
        CX.close();
    }

    /** Inputs and outputs of one attention call (forward + backward). */
    private record Run(Tensor out, Tensor dq, Tensor dk, Tensor dv) {}

    private record Inputs(Attention.Dims d, Tensor q, Tensor k, Tensor v, Tensor dout) {
        static Inputs random(Attention.Dims d, long seed) {
            Random r = new Random(seed);
            int c = d.nh() * d.hd(), kv = d.nkv() * d.hd();
            return new Inputs(
                    d,
                    randn(r, 1, d.b(), d.t(), c),
                    randn(r, 1, d.b(), d.t(), kv),
                    randn(r, 1, d.b(), d.t(), kv),
                    randn(r, 1, d.b(), d.t(), c));
        }

        Run grads() {
            int c = d.nh() * d.hd(), kv = d.nkv() * d.hd();
            Tensor dq = Tensor.zeros(d.b(), d.t(), c);
            Tensor dk = Tensor.zeros(d.b(), d.t(), kv);
            Tensor dv = Tensor.zeros(d.b(), d.t(), kv);
            // Garbage in the gradients: backward must assign.
            dq.fill(7f);
            dk.fill(7f);
            dv.fill(7f);
            return new Run(Tensor.zeros(d.b(), d.t(), c), dq, dk, dv);
        }
    }

    private static Run full(Compute cx, Inputs in) {
        Attention.Dims d = in.d();
        Run o = in.grads();
        Tensor att = Tensor.zeros(d.b(), d.nh(), d.t(), d.t()), datt = Tensor.zeros(d.b(), d.nh(), d.t(), d.t());
        Attention.forwardFull(cx, o.out(), att, in.q(), in.k(), in.v(), d);
        Attention.backwardFull(cx, o.dq(), o.dk(), o.dv(), datt, in.dout(), in.q(), in.k(), in.v(), att, d);
        return o;
    }

    private static Run tiled(Compute cx, Inputs in, int block) {
        Attention.Dims d = in.d();
        Run o = in.grads();
        Tensor lse = Tensor.zeros(Math.toIntExact(TiledAttention.lseElems(d)));
        Tensor fs = Tensor.zeros(Math.toIntExact(TiledAttention.forwardScratchElems(d, block)));
        Tensor bs = Tensor.zeros(Math.toIntExact(TiledAttention.backwardScratchElems(d, block)));
        fs.fill(Float.NaN); // scratch contents must never leak into results
        bs.fill(Float.NaN);
        TiledAttention.forward(cx, o.out(), lse, fs, in.q(), in.k(), in.v(), d, block);
        TiledAttention.backward(cx, o.dq(), o.dk(), o.dv(), bs, in.dout(), in.q(), in.k(), in.v(), lse, d, block);
        return o;
    }

    /** Max |a − b| / (max |b| + 1e-6) over all elements. */
    private static double relErr(Tensor a, Tensor b) {
        double diff = 0, scale = 0;
        for (long i = 0; i < b.numel(); i++) {
            diff = Math.max(diff, Math.abs((double) a.get(i) - b.get(i)));
            scale = Math.max(scale, Math.abs(b.get(i)));
        }
        return diff / (scale + 1e-6);
    }

    private static void assertClose(String what, Tensor a, Tensor b) {
        double e = relErr(a, b);
        assertTrue(e < 2e-5, what + ": relative max error " + e);
    }

    @Test
    void matchesTheFullPathOnOddLengthsAndManyBlockSizes() {
        Attention.Dims[] dims = {
            new Attention.Dims(2, 13, 4, 2, 8), // GQA, group 2
            new Attention.Dims(1, 37, 6, 2, 4), // group 3
            new Attention.Dims(2, 67, 2, 2, 16), // MHA
        };
        long seed = 100;
        for (Attention.Dims d : dims) {
            Inputs in = Inputs.random(d, seed++);
            Run ref = full(CX, in);
            for (int block : new int[] {1, 5, 16, 32, d.t() - 1, d.t(), d.t() + 3}) {
                Run got = tiled(CX, in, block);
                String what = d + " block " + block;
                assertClose(what + " out", got.out(), ref.out());
                assertClose(what + " dq", got.dq(), ref.dq());
                assertClose(what + " dk", got.dk(), ref.dk());
                assertClose(what + " dv", got.dv(), ref.dv());
            }
        }
    }

    @Test
    void finiteDifferenceGradients() {
        Random r = new Random(21);
        Attention.Dims d = new Attention.Dims(2, 7, 4, 2, 4);
        Inputs in = Inputs.random(d, 22);
        int block = 3;
        Run o = tiled(CX, in, block);
        Tensor lse = Tensor.zeros(Math.toIntExact(TiledAttention.lseElems(d)));
        Tensor fs = Tensor.zeros(Math.toIntExact(TiledAttention.forwardScratchElems(d, block)));
        var loss = (java.util.function.DoubleSupplier) () -> {
            TiledAttention.forward(CX, o.out(), lse, fs, in.q(), in.k(), in.v(), d, block);
            return weighted(o.out(), in.dout());
        };
        assertWithin(check("tiled attention dq", in.q(), o.dq(), loss, 48, 1e-2, r), 2e-3);
        assertWithin(check("tiled attention dk", in.k(), o.dk(), loss, 48, 1e-2, r), 2e-3);
        assertWithin(check("tiled attention dv", in.v(), o.dv(), loss, 48, 1e-2, r), 2e-3);
    }

    @Test
    void attentionDispatchesByShapeAndMatchesTheFullPath() {
        Attention.Dims small = new Attention.Dims(1, Attention.TILED_MIN_T - 1, 2, 1, 8);
        Attention.Dims large = new Attention.Dims(1, Attention.TILED_MIN_T + 3, 2, 1, 8);
        assertFalse(Attention.tiled(small));
        assertTrue(Attention.tiled(large));
        Inputs in = Inputs.random(large, 31);
        Run ref = full(CX, in);
        Run got = in.grads();
        Attention.Dims d = large;
        Tensor att = Tensor.zeros(d.b(), d.nh(), d.t(), d.t()), datt = Tensor.zeros(d.b(), d.nh(), d.t(), d.t());
        Attention.forward(CX, got.out(), att, in.q(), in.k(), in.v(), d);
        Attention.backward(CX, got.dq(), got.dk(), got.dv(), datt, in.dout(), in.q(), in.k(), in.v(), att, d);
        assertClose("out", got.out(), ref.out());
        assertClose("dq", got.dq(), ref.dq());
        assertClose("dk", got.dk(), ref.dk());
        assertClose("dv", got.dv(), ref.dv());
    }

    @Test
    void bitIdenticalOnOneAndThreeThreads() {
        Inputs in = Inputs.random(new Attention.Dims(3, 45, 4, 2, 8), 41);
        try (Compute one = Compute.cpu(1);
                Compute three = Compute.cpu(3)) {
            Run a = tiled(one, in, 8), b = tiled(three, in, 8);
            assertArrayEquals(a.out().toArray(), b.out().toArray());
            assertArrayEquals(a.dq().toArray(), b.dq().toArray());
            assertArrayEquals(a.dk().toArray(), b.dk().toArray());
            assertArrayEquals(a.dv().toArray(), b.dv().toArray());
        }
    }

    @Test
    void rejectsBadBlockAndShortScratch() {
        Attention.Dims d = new Attention.Dims(1, 8, 2, 1, 4);
        Inputs in = Inputs.random(d, 51);
        Run o = in.grads();
        Tensor lse = Tensor.zeros(Math.toIntExact(TiledAttention.lseElems(d)));
        Tensor fs = Tensor.zeros(Math.toIntExact(TiledAttention.forwardScratchElems(d, 4)));
        assertThrows(
                IllegalArgumentException.class,
                () -> TiledAttention.forward(CX, o.out(), lse, fs, in.q(), in.k(), in.v(), d, 0));
        assertThrows(
                IllegalArgumentException.class,
                () -> TiledAttention.forward(CX, o.out(), lse, fs, in.q(), in.k(), in.v(), d, 5));
    }
}
