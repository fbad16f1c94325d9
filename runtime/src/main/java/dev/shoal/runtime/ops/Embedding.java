// Token embedding lookup: out[n, :] = wte[tokens[n], :].
// Guarantees: a token outside [0, V) is refused with its position and value; the backward pass splits
// work by columns, so repeated tokens never race and the result does not depend on the thread count.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class Embedding {
    private Embedding() {}

    /**
     * out [N, C] = wte [V, C] rows picked by tokens [N] (only the first N entries of tokens are read,
     * starting at tokensOffset).
     */
    public static void forward(Compute cx, Tensor out, int[] tokens, int tokensOffset, Tensor wte) {
        int c = wte.dim(1);
        int v = wte.dim(0);
        int n = (int) (out.numel() / c);
        checkTokens(tokens, tokensOffset, n, v);
        // Each row is an independent copy of one embedding row.
        cx.par().forRange(n, 64, (s, e) -> {
            float[] row = Scratch.row(0, c);
            for (int i = (int) s; i < e; i++) {
                wte.read((long) tokens[tokensOffset + i] * c, row, 0, c);
                out.write((long) i * c, row, 0, c);
            }
        });
    }

    /** dwte [V, C] += scatter of dout [N, C] into the rows named by tokens. */
    public static void backward(Compute cx, Tensor dwte, Tensor dout, int[] tokens, int tokensOffset) {
        int c = dwte.dim(1);
        int v = dwte.dim(0);
        int n = (int) (dout.numel() / c);
        checkTokens(tokens, tokensOffset, n, v);
        // dwte[tok] += dout[row]: split by column ranges so two rows with the same token never collide.
        cx.par().forRange(c, 16, (cs, ce) -> {
            for (int i = 0; i < n; i++) {
                long dst = (long) tokens[tokensOffset + i] * c;
                long src = (long) i * c;
                for (long j = cs; j < ce; j++) {
                    dwte.set(dst + j, dwte.get(dst + j) + dout.get(src + j));
                }
            }
        });
    }

    static void checkTokens(int[] tokens, int offset, int n, int v) {
        if (offset < 0 || offset + n > tokens.length) {
            throw new IllegalArgumentException(
                    "need " + n + " tokens from offset " + offset + ", have " + tokens.length);
        }
        for (int i = 0; i < n; i++) {
            int t = tokens[offset + i];
            if (t < 0 || t >= v) {
                throw new IllegalArgumentException(
                        "token " + t + " at position " + i + " is outside the vocabulary [0, " + v + ")");
            }
        }
    }
}
