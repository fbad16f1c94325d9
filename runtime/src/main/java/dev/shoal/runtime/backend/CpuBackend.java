// The tensor backend on the CPU: fp32 compute in off-heap host memory, so BackendLlama trains on a CPU
// rank with the numbers of the fp32 reference engine (LlamaModel). Every call is one of the CPU engine's
// own kernels, not a second implementation: GEMMs through the Compute's Gemm (OpenBLAS), and RmsNorm,
// Rope, TiledAttention, SwiGlu, Embedding, Residual, CrossEntropy and AdamW from runtime/ops and
// runtime/optim, all multi-threaded on the Compute's Parallel pool.
// Guarantees: calls run synchronously in call order (synchronize() is a no-op, the "async" copies are
// plain copies); allocations are 64-byte aligned off-heap blocks, freed by free() or close(); results do
// not depend on the thread count (the kernels' own guarantee: fixed-block reductions, work split over
// independent rows or (batch, KV head) pairs); attention keeps only each row's log-sum-exp, like the GPU
// flash kernels, and runs one T×T strip per (batch, KV head) below Attention.TILED_MIN_T and 64-row
// blocks from there (the CPU engine's measured crossover).
package dev.shoal.runtime.backend;

import dev.shoal.cuda.kernels.AdamWKernel;
import dev.shoal.runtime.ops.Attention;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.Embedding;
import dev.shoal.runtime.ops.Residual;
import dev.shoal.runtime.ops.RmsNorm;
import dev.shoal.runtime.ops.Rope;
import dev.shoal.runtime.ops.SwiGlu;
import dev.shoal.runtime.ops.TiledAttention;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

public final class CpuBackend implements SynchronousBackend {
    private static final int ALIGN = 64;
    /** Bytes per parallel chunk of zero-filling and copies. */
    private static final long COPY_CHUNK = 1L << 22;

    private final Compute cx;
    private final boolean ownsCompute;
    private final Map<Long, Pointer> blocks = new HashMap<>(); // aligned address -> the malloc'd block
    private Tensor attnScratch; // [forwardScratchElems] attention forward strips, grown on demand
    private Tensor normScratch; // [N·C] copy of dy when rmsnormBackward's dx aliases it

    /** A backend running on {@code cx}'s GEMM and thread pool (the caller keeps and closes cx). */
    public CpuBackend(Compute cx) {
        this(cx, false);
    }

    private CpuBackend(Compute cx, boolean owns) {
        if (cx == null) throw new IllegalArgumentException("CpuBackend needs a Compute");
        this.cx = cx;
        this.ownsCompute = owns;
    }

    /** A backend with its own pool of {@code threads} threads (OpenBLAS GEMMs split over the pool). */
    public static CpuBackend create(int threads) {
        if (threads < 1) throw new IllegalArgumentException("CPU backend threads must be >= 1, got " + threads);
        return new CpuBackend(Compute.cpu(threads), true);
    }

    /** fp32: the CPU engine's numbers. */
    @Override
    public Precision computeType() {
        return Precision.F32;
    }

    public Compute compute() {
        return cx;
    }

    // ---- views ----

    /** An fp32 tensor over {@code n} floats at {@code address} (no copy, not owned). */
    private static Tensor f(long address, long n) {
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a CPU backend operand of " + n + " elements exceeds 2^31 − 1");
        }
        return Tensor.wrap(new RawPointer(address, 4 * n), 0, (int) n);
    }

    /** An fp32 tensor [rows, cols] at {@code address}. */
    private static Tensor f(long address, int rows, int cols) {
        return Tensor.wrap(new RawPointer(address, 4L * rows * cols), 0, rows, cols);
    }

    /** n int32 values at {@code address}, copied to the heap (tokens and targets: the ops take int[]). */
    private static int[] ints(long address, int n) {
        int[] out = new int[n];
        new IntPointer(new RawPointer(address, 4L * n)).capacity(n).limit(n).get(out);
        return out;
    }

    // ---- memory and copies ----

    @Override
    public long alloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("CPU backend allocation of " + bytes + " bytes");
        Pointer p = Pointer.malloc(bytes + ALIGN);
        if (p == null || p.isNull()) {
            throw new OutOfMemoryError("CPU backend: malloc of " + (bytes + ALIGN) + " bytes failed");
        }
        long aligned = (p.address() + ALIGN - 1) & -ALIGN;
        blocks.put(aligned, p);
        return aligned;
    }

    @Override
    public void free(long address) {
        Pointer p = blocks.remove(address);
        if (p == null) throw new IllegalArgumentException("free of an address this backend did not allocate");
        Pointer.free(p);
    }

    /** Live allocations (tests: every model buffer comes back). */
    public int liveBlocks() {
        return blocks.size();
    }

    @Override
    public void zero(long address, long bytes) {
        Parallel par = cx.par();
        par.forRange((bytes + COPY_CHUNK - 1) / COPY_CHUNK, 1, (s, e) -> {
            long from = s * COPY_CHUNK, to = Math.min(bytes, e * COPY_CHUNK);
            Pointer.memset(new RawPointer(address + from, to - from), 0, to - from);
        });
    }

    private void copy(long dst, long src, long bytes) {
        if (dst == src || bytes == 0) return;
        cx.par().forRange((bytes + COPY_CHUNK - 1) / COPY_CHUNK, 1, (s, e) -> {
            long from = s * COPY_CHUNK, to = Math.min(bytes, e * COPY_CHUNK);
            Pointer.memcpy(new RawPointer(dst + from, to - from), new RawPointer(src + from, to - from), to - from);
        });
    }

    @Override
    public void upload(long dst, Pointer src, long bytes) {
        copy(dst, src.address() + src.position() * src.sizeof(), bytes);
    }

    @Override
    public void download(Pointer dst, long src, long bytes) {
        copy(dst.address() + dst.position() * dst.sizeof(), src, bytes);
    }

    // ---- compute ----

    @Override
    public void gemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            long a,
            long b,
            float beta,
            long c,
            boolean cF32) {
        // Row-major: A stored [m, k] or [k, m], B [k, n] or [n, k], C [m, n]; cF32 changes nothing on fp32.
        Tensor at = f(a, (long) m * k), bt = f(b, (long) k * n), ct = f(c, (long) m * n);
        cx.gemm().sgemm(transA, transB, m, n, k, alpha, at, 0, transA ? m : k, bt, 0, transB ? k : n, beta, ct, 0, n);
    }

    @Override
    public void embeddingForward(long tokens, long wte, long out, int n, int c, int v) {
        Embedding.forward(cx, f(out, n, c), ints(tokens, n), 0, f(wte, v, c));
    }

    @Override
    public void embeddingBackward(long tokens, long dout, long dwte, int n, int c, int v) {
        Embedding.backward(cx, f(dwte, v, c), f(dout, n, c), ints(tokens, n), 0);
    }

    @Override
    public void rmsnormForward(long x, long w, long y, long rstd, int n, int c, float eps) {
        RmsNorm.forward(cx, f(y, n, c), f(rstd, n), f(x, n, c), f(w, c), eps);
    }

    @Override
    public void rmsnormBackward(long dy, long x, long w, long rstd, long dx, long dw, int n, int c) {
        Tensor dout = f(dy, n, c);
        if (dx == dy) {
            // RmsNorm.backward reads dout again for dw after writing dx: keep a copy when they alias.
            long elems = (long) n * c;
            if (normScratch == null || normScratch.numel() < elems) {
                if (normScratch != null) normScratch.close();
                normScratch = Tensor.zeros(Math.toIntExact(elems));
            }
            Tensor copy = normScratch.flatRange(0, Math.toIntExact(elems)).view(n, c);
            copy.copyFrom(dout);
            dout = copy;
        }
        RmsNorm.backward(cx, f(dx, n, c), f(dw, c), dout, f(x, n, c), f(w, c), f(rstd, n));
    }

    @Override
    public void rope(long x, long y, long cos, long sin, int b, int t, int nh, int hd, boolean backward) {
        int half = hd / 2;
        Rope.Tables tab = new Rope.Tables(f(cos, t, half), f(sin, t, half), t, hd);
        long elems = (long) b * t * nh * hd;
        if (backward) {
            Rope.backward(cx, f(y, elems), f(x, elems), tab, b, t, nh);
        } else {
            Rope.forward(cx, f(y, elems), f(x, elems), tab, b, t, nh);
        }
    }

    /** Query rows per attention block: one T×T strip below the tiled crossover, 64-row blocks from it. */
    static int attentionBlock(int t) {
        return t < Attention.TILED_MIN_T ? t : Attention.TILE;
    }

    /** Elements of one [block, T] strip at the largest strip any T' <= t needs. */
    private static long stripElems(int t) {
        int below = Math.min(t, Attention.TILED_MIN_T - 1);
        long full = (long) below * below;
        return t >= Attention.TILED_MIN_T ? Math.max(full, (long) Attention.TILE * t) : full;
    }

    @Override
    public void attentionForward(long q, long k, long v, long o, long lse, int b, int t, int nh, int nkv, int hd) {
        Attention.Dims d = new Attention.Dims(b, t, nh, nkv, hd);
        int block = attentionBlock(t);
        long need = TiledAttention.forwardScratchElems(d, block);
        if (attnScratch == null || attnScratch.numel() < need) {
            if (attnScratch != null) attnScratch.close();
            attnScratch = Tensor.zeros(Math.toIntExact(need));
        }
        long btc = (long) b * t * nh * hd, btkv = (long) b * t * nkv * hd;
        TiledAttention.forward(
                cx,
                f(o, btc),
                f(lse, TiledAttention.lseElems(d)),
                attnScratch,
                f(q, btc),
                f(k, btkv),
                f(v, btkv),
                d,
                block);
    }

    @Override
    public void attentionBackward(
            long q,
            long k,
            long v,
            long o,
            long lse,
            long dO,
            long dq,
            long dk,
            long dv,
            long workspace,
            int b,
            int t,
            int nh,
            int nkv,
            int hd) {
        Attention.Dims d = new Attention.Dims(b, t, nh, nkv, hd);
        int block = attentionBlock(t);
        long btc = (long) b * t * nh * hd, btkv = (long) b * t * nkv * hd;
        TiledAttention.backward(
                cx,
                f(dq, btc),
                f(dk, btkv),
                f(dv, btkv),
                f(workspace, TiledAttention.backwardScratchElems(d, block)),
                f(dO, btc),
                f(q, btc),
                f(k, btkv),
                f(v, btkv),
                f(lse, TiledAttention.lseElems(d)),
                d,
                block);
    }

    /** Two [block, T] strips per (batch, head) pair, at the largest block any T' <= t uses. */
    @Override
    public long attentionWorkspaceBytes(int b, int nh, int t) {
        return 4L * 2 * b * nh * stripElems(t);
    }

    @Override
    public void swigluForward(long g, long u, long h, long n) {
        SwiGlu.activation(cx, f(h, n), f(g, n), f(u, n));
    }

    @Override
    public void swigluBackward(long dh, long g, long u, long dg, long du, long n) {
        SwiGlu.activationBackward(cx, f(dg, n), f(du, n), f(dh, n), f(g, n), f(u, n));
    }

    @Override
    public void add(long a, long b, long y, long n) {
        Residual.forward(cx, f(y, n), f(a, n), f(b, n));
    }

    @Override
    public void crossEntropy(
            long logits,
            long targets,
            int n,
            int v,
            long rowMax,
            long rowSumExp,
            long targetLogit,
            long lossRows,
            long dlogits,
            float scale) {
        int[] y = ints(targets, n);
        Tensor x = f(logits, n, v), lse = f(rowSumExp, n), loss = f(lossRows, n);
        int count = CrossEntropy.countTargets(y, 0, n, v);
        loss.zero();
        if (count == 0) {
            if (dlogits != 0) zero(dlogits, 4L * n * v);
            return;
        }
        // Each row's log-sum-exp (the engine's forward, which also averages: not needed here).
        CrossEntropy.forward(cx, x, y, 0, lse);
        // Per-row losses lse − logit[target]; ignored rows stay 0.
        for (int i = 0; i < n; i++) {
            if (y[i] != CrossEntropy.IGNORE_INDEX) {
                loss.set(i, (float) ((double) lse.get(i) - x.get((long) i * v + y[i])));
            }
        }
        if (dlogits != 0) {
            CrossEntropy.backwardScaled(cx, f(dlogits, n, v), x, y, 0, scale, lse);
        }
    }

    @Override
    public void castToCompute(long src, long dst, long n) {
        copy(dst, src, 4 * n);
    }

    @Override
    public int sumPartials() {
        return 1;
    }

    @Override
    public void sum(long x, long n, boolean squared, long partials, long out) {
        double total = 0;
        // Slices below 2^31 elements, each reduced over the pool's fixed chunks (thread-count independent).
        for (long first = 0; first < n; first += Integer.MAX_VALUE / 2) {
            Tensor t = f(x + 4 * first, Math.min(n - first, Integer.MAX_VALUE / 2));
            total += cx.par().sumChunks(t.numel(), (s, e) -> {
                int len = (int) (e - s);
                float[] row = Scratch.row(0, len);
                t.read(s, row, 0, len);
                double acc = 0;
                for (int i = 0; i < len; i++) {
                    acc += squared ? (double) row[i] * row[i] : row[i];
                }
                return acc;
            });
        }
        f(out, 1).set(0, (float) total);
    }

    @Override
    public void clipFactor(long sumSq, float maxNorm, long out, long norm) {
        // As GradClip.clipGlobalNorm: factor max / (norm + 1e-6), applied only when below 1.
        double nrm = Math.sqrt(f(sumSq, 1).get(0));
        f(norm, 1).set(0, (float) nrm);
        f(out, 1).set(0, (float) Math.min(1.0, maxNorm / (nrm + 1e-6)));
    }

    @Override
    public void adamw(long p, long g, long m, long v, long pCompute, long n, AdamWKernel.Hyper h, long clipScale) {
        float scale = clipScale != 0 ? f(clipScale, 1).get(0) : 1f;
        AdamW.update(
                cx.par(),
                f(p, n),
                f(g, n),
                f(m, n),
                f(v, n),
                h.lr(),
                h.beta1(),
                h.beta2(),
                h.eps(),
                h.weightDecay(),
                h.step(),
                scale);
        if (pCompute != 0) copy(pCompute, p, 4 * n);
    }

    @Override
    public void close() {
        for (Pointer p : blocks.values()) Pointer.free(p);
        blocks.clear();
        if (attnScratch != null) attnScratch.close();
        if (normScratch != null) normScratch.close();
        attnScratch = normScratch = null;
        if (ownsCompute) cx.close();
    }
}
