// The tensor backend the Llama training step (BackendLlama) is written against, once for every device:
// memory, copies, one GEMM and one call per kernel, all enqueued in order on one stream. Addresses are
// plain longs (device addresses on a GPU, host addresses on the CPU). Activations and GEMM operands are
// in the backend's compute type (computeType(): bf16 on CUDA, fp32 on the CPU backend); master weights,
// gradients, optimizer state and statistics are always fp32.
// Implementations: CudaOps (CUDA: cuBLAS and the NVRTC kernels, bf16 compute), CpuBackend (host memory,
// OpenBLAS and the CPU engine's ops, fp32 compute), and the tests' HostOps (the GPU emulated on the host).
// Guarantees (every implementation): calls run in the order they are made; nothing blocks the host
// except download(), synchronize() and the allocation calls; argument meanings are those of the
// dev.shoal.cuda kernel launchers CudaOps forwards to, with "bf16" read as "the compute type".
package dev.shoal.runtime.backend;

import dev.shoal.cuda.kernels.AdamWKernel;
import org.bytedeco.javacpp.Pointer;

public interface TensorBackend extends AutoCloseable {
    /** The element type of activations and GEMM operands (and of the model's compute copy of the weights). */
    enum Precision {
        BF16(2), // bfloat16, rounded to nearest even: CUDA
        F32(4); // float32: the CPU backend, whose numbers match the fp32 reference engine

        private final int bytes;

        Precision(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int bytes() {
            return bytes;
        }
    }

    /** This backend's compute type: what the "bf16" buffers of the calls below hold. */
    Precision computeType();

    // ---- memory and copies ----

    /** {@code bytes} of uninitialised device memory, aligned to at least 256 bytes. */
    long alloc(long bytes);

    /** Returns a block from {@link #alloc}. */
    void free(long address);

    /** Enqueues zero-filling of {@code bytes} at {@code address}. */
    void zero(long address, long bytes);

    /** Copies host memory to the device; the host memory may be reused when this returns. */
    void upload(long dst, Pointer src, long bytes);

    /** Waits for all enqueued work, then copies device memory to the host. */
    void download(Pointer dst, long src, long bytes);

    /** Page-locked host memory for {@link #uploadAsync} and {@link #downloadAsync}. */
    Pointer pinned(long bytes);

    /** Enqueues a copy from pinned host memory (which must stay unchanged until the stream passed it). */
    void uploadAsync(long dst, Pointer pinnedSrc, long bytes);

    /** Enqueues a copy into pinned host memory (read it after {@link #synchronize}). */
    void downloadAsync(Pointer pinnedDst, long src, long bytes);

    /** Blocks until every enqueued operation has finished. */
    void synchronize();

    // ---- compute ----

    /**
     * Row-major C [m, n] = alpha·op(A)·op(B) + beta·C with bf16 A, B and fp32 accumulation; C is bf16
     * ({@code cF32} false) or fp32. A is stored [m, k] (or [k, m] when transA), B [k, n] (or [n, k]).
     */
    void gemm(
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
            boolean cF32);

    /** out [N, C] bf16 = wte [V, C] bf16 rows of tokens [N] int32. */
    void embeddingForward(long tokens, long wte, long out, int n, int c, int v);

    /** dwte [V, C] fp32 += scatter of dout [N, C] bf16 by tokens. */
    void embeddingBackward(long tokens, long dout, long dwte, int n, int c, int v);

    /** y [N, C] bf16 = x · rstd · w (w fp32 [C]); rstd [N] fp32 saved. */
    void rmsnormForward(long x, long w, long y, long rstd, int n, int c, float eps);

    /** dx [N, C] bf16 assigned (may alias dy); dw [C] fp32 +=. */
    void rmsnormBackward(long dy, long x, long w, long rstd, long dx, long dw, int n, int c);

    /** In place or not: y [B, T, NH, hd] = rotation of x by position (backward: inverse rotation). */
    void rope(long x, long y, long cos, long sin, int b, int t, int nh, int hd, boolean backward);

    /** Causal GQA: o [B, T, NH, hd] and lse [B, NH, T] fp32 from q [B, T, NH, hd], k, v [B, T, NKV, hd]. */
    void attentionForward(long q, long k, long v, long o, long lse, int b, int t, int nh, int nkv, int hd);

    /** dq, dk, dv (assigned) from dO; workspace of {@link #attentionWorkspaceBytes} bytes. */
    void attentionBackward(
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
            int hd);

    long attentionWorkspaceBytes(int b, int nh, int t);

    /** h = silu(g) · u over n bf16 elements. */
    void swigluForward(long g, long u, long h, long n);

    /** dg = dh·u·silu'(g), du = dh·silu(g) (assigned; dg may alias g, du may alias u). */
    void swigluBackward(long dh, long g, long u, long dg, long du, long n);

    /** y = a + b over n bf16 elements (y may alias a or b). */
    void add(long a, long b, long y, long n);

    /**
     * Cross-entropy over fp32 logits [N, V] with int32 targets [N] (−100 ignored): per-row losses
     * into lossRows [N] fp32 and, when dlogits != 0, dlogits [N, V] fp32 = (softmax − onehot)·scale
     * (may alias logits). rowMax, rowSumExp, targetLogit [N] fp32 are scratch.
     */
    void crossEntropy(
            long logits,
            long targets,
            int n,
            int v,
            long rowMax,
            long rowSumExp,
            long targetLogit,
            long lossRows,
            long dlogits,
            float scale);

    /**
     * dst [n] compute type = src [n] fp32 (bf16: rounded to nearest even; fp32: a copy, nothing when dst is
     * src).
     */
    void castToCompute(long src, long dst, long n);

    /** Elements of the partials scratch {@link #sum} needs. */
    int sumPartials();

    /** out[0] = sum of x [n] fp32 (or of x²), deterministic; partials is scratch. */
    void sum(long x, long n, boolean squared, long partials, long out);

    /** out[0] = min(1, maxNorm / (sqrt(sumSq[0]) + 1e-6)), norm[0] = sqrt(sumSq[0]). */
    void clipFactor(long sumSq, float maxNorm, long out, long norm);

    /**
     * AdamW on fp32 p, m, v with fp32 g scaled by clipScale[0]; writes the compute-type copy pCompute (0 =
     * none).
     */
    void adamw(long p, long g, long m, long v, long pCompute, long n, AdamWKernel.Hyper h, long clipScale);

    @Override
    void close();
}
