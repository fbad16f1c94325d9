// Llama's SwiGLU MLP: out = down(silu(gate(x)) ⊙ up(x)), silu(g) = g·σ(g).
// Guarantees: the three projections go through Linear (Gemm); the gate and up pre-activations and
// their product are kept for the backward pass; the two input-gradient products add into one dx.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FastMath;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class SwiGlu {
    private SwiGlu() {}

    /**
     * out [N, C] = (silu(x·wGateᵀ) ⊙ x·wUpᵀ)·wDownᵀ. Saves gate [N, F], up [N, F] and h [N, F] = the
     * product. wGate, wUp [F, C]; wDown [C, F].
     */
    public static void forward(
            Compute cx,
            Tensor out,
            Tensor gate,
            Tensor up,
            Tensor h,
            Tensor x,
            Tensor wGate,
            Tensor wUp,
            Tensor wDown) {
        forward(cx, out, gate, up, h, x, wGate, wUp, wDown, false);
    }

    /** As above; with accumulate, out += the MLP output (the residual add fused into the last GEMM). */
    public static void forward(
            Compute cx,
            Tensor out,
            Tensor gate,
            Tensor up,
            Tensor h,
            Tensor x,
            Tensor wGate,
            Tensor wUp,
            Tensor wDown,
            boolean accumulate) {
        // The two input projections.
        Linear.forward(cx, gate, x, wGate);
        Linear.forward(cx, up, x, wUp);
        // The gated activation h = silu(gate) ⊙ up.
        activation(cx, h, gate, up);
        // The output projection.
        Linear.forward(cx, out, h, wDown, accumulate);
    }

    /** Elements per scratch chunk of the element-wise passes. */
    private static final int CHUNK = 4096;

    /** h = silu(gate) ⊙ up, element-wise. */
    public static void activation(Compute cx, Tensor h, Tensor gate, Tensor up) {
        long total = h.numel();
        cx.par().forRange((total + CHUNK - 1) / CHUNK, 1, (cs, ce) -> {
            float[] g = Scratch.row(0, CHUNK), u = Scratch.row(1, CHUNK), ex = Scratch.row(2, CHUNK);
            for (long ch = cs; ch < ce; ch++) {
                long off = ch * CHUNK;
                int len = (int) Math.min(CHUNK, total - off);
                gate.read(off, g, 0, len);
                up.read(off, u, 0, len);
                // e^(−g) in bulk (vectorised), then σ(g) = 1 / (1 + e^(−g)).
                for (int i = 0; i < len; i++) {
                    ex[i] = -g[i];
                }
                FastMath.expInPlace(ex, 0, len);
                for (int i = 0; i < len; i++) {
                    float sig = 1f / (1f + ex[i]);
                    u[i] = g[i] * sig * u[i];
                }
                h.write(off, u, 0, len);
            }
        });
    }

    /**
     * dx [N, C] (assigned) and dwGate, dwUp, dwDown (+=) from dout [N, C]. dh, dgate, dup [N, F] are
     * scratch (dh may alias nothing saved; dgate/dup must not alias gate/up).
     */
    public static void backward(
            Compute cx,
            Tensor dx,
            Tensor dwGate,
            Tensor dwUp,
            Tensor dwDown,
            Tensor dh,
            Tensor dgate,
            Tensor dup,
            Tensor dout,
            Tensor x,
            Tensor gate,
            Tensor up,
            Tensor h,
            Tensor wGate,
            Tensor wUp,
            Tensor wDown) {
        // Down projection: dh = dout · wDown, dwDown += doutᵀ · h.
        Linear.backward(cx, dh, dwDown, dout, h, wDown, false);
        // Through the gate (dgate, dup from dh).
        activationBackward(cx, dgate, dup, dh, gate, up);
        // The two input projections share x: the first assigns dx, the second adds to it.
        Linear.backward(cx, dx, dwGate, dgate, x, wGate, false);
        Linear.backward(cx, dx, dwUp, dup, x, wUp, true);
    }

    /**
     * The gate's backward, element-wise: dup = dh ⊙ silu(g); dgate = dh ⊙ up ⊙ σ(g)·(1 + g·(1 − σ(g)))
     * (both assigned). Each chunk is read before it is written, so dgate may alias gate and dup may alias up.
     */
    public static void activationBackward(Compute cx, Tensor dgate, Tensor dup, Tensor dh, Tensor gate, Tensor up) {
        long total = dh.numel();
        cx.par().forRange((total + CHUNK - 1) / CHUNK, 1, (cs, ce) -> {
            float[] g = Scratch.row(0, CHUNK), u = Scratch.row(1, CHUNK), d = Scratch.row(2, CHUNK);
            float[] ex = Scratch.row(3, CHUNK);
            for (long ch = cs; ch < ce; ch++) {
                long off = ch * CHUNK;
                int len = (int) Math.min(CHUNK, total - off);
                gate.read(off, g, 0, len);
                up.read(off, u, 0, len);
                dh.read(off, d, 0, len);
                for (int i = 0; i < len; i++) {
                    ex[i] = -g[i];
                }
                FastMath.expInPlace(ex, 0, len);
                for (int i = 0; i < len; i++) {
                    float sig = 1f / (1f + ex[i]);
                    float di = d[i];
                    d[i] = di * u[i] * sig * (1f + g[i] * (1f - sig)); // dgate
                    u[i] = di * g[i] * sig; // dup
                }
                dgate.write(off, d, 0, len);
                dup.write(off, u, 0, len);
            }
        });
    }
}
