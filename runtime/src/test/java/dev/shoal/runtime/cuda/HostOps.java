// A host-memory stand-in for the GPU: every TensorBackend call done on the CPU with the kernels' documented
// semantics and storage types (bf16 activations rounded to nearest even, fp32 statistics, gradients
// and optimizer state). Lets the whole GPU training step (its offsets, transposes, leading dimensions
// and op order) run and be checked against the CPU LlamaModel on a machine without a GPU.
// Guarantees: every access is bounds-checked against the allocation it falls in (an offset error
// throws instead of corrupting memory); allocations are 256-byte aligned as cudaMalloc's are, and
// attention operands must be 16-byte aligned as the flash kernels require; arithmetic is fp32 or
// double, so results differ from the GPU's only by summation order.
package dev.shoal.runtime.cuda;

import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.kernels.AdamWKernel;
import dev.shoal.runtime.backend.RawPointer;
import dev.shoal.runtime.backend.SynchronousBackend;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

public final class HostOps implements SynchronousBackend {
    private record Block(BytePointer memory, long start, long bytes, ByteBuffer buf) {}

    static final int PARTIALS = 64;
    private final TreeMap<Long, Block> blocks = new TreeMap<>();
    long gemmCalls, kernelCalls;

    /** bf16, as on the GPU: the point of this stand-in. */
    @Override
    public Precision computeType() {
        return Precision.BF16;
    }

    // ---- memory ----

    @Override
    public long alloc(long bytes) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE - 512) {
            throw new IllegalArgumentException("host stand-in allocation of " + bytes + " bytes");
        }
        BytePointer p = new BytePointer(bytes + 256);
        p.fill(0x7f); // garbage, like fresh device memory (0x7f7f7f7f is a large finite float)
        long start = (p.address() + 255) & ~255L;
        ByteBuffer buf = p.position(0).capacity(bytes + 256).limit(bytes + 256).asByteBuffer();
        int off = (int) (start - p.address());
        ByteBuffer view = buf.position(off).limit(off + (int) bytes).slice().order(ByteOrder.LITTLE_ENDIAN);
        blocks.put(start, new Block(p, start, bytes, view));
        return start;
    }

    @Override
    public void free(long address) {
        Block b = blocks.remove(address);
        if (b == null) {
            throw new IllegalArgumentException("free of an address that was not allocated: " + address);
        }
        b.memory().close();
    }

    int liveBlocks() {
        return blocks.size();
    }

    private ByteBuffer view(long addr, long bytes) {
        Map.Entry<Long, Block> e = blocks.floorEntry(addr);
        if (e == null || addr + bytes > e.getKey() + e.getValue().bytes() || bytes < 0) {
            throw new IndexOutOfBoundsException("access [" + addr + ", +" + bytes + ") is outside every allocation"
                    + (e == null
                            ? ""
                            : " (nearest starts " + (addr - e.getKey()) + " bytes before, holds "
                                    + e.getValue().bytes() + ")"));
        }
        int off = (int) (addr - e.getKey());
        return e.getValue()
                .buf()
                .duplicate()
                .position(off)
                .limit(off + (int) bytes)
                .slice()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    float[] f32(long addr, long n) {
        float[] out = new float[(int) n];
        view(addr, 4 * n).asFloatBuffer().get(out);
        return out;
    }

    void putF32(long addr, float[] v) {
        view(addr, 4L * v.length).asFloatBuffer().put(v);
    }

    float[] bf(long addr, long n) {
        short[] s = new short[(int) n];
        view(addr, 2 * n).asShortBuffer().get(s);
        float[] out = new float[(int) n];
        for (int i = 0; i < n; i++) {
            out[i] = Bf16.fromBits(s[i]);
        }
        return out;
    }

    void putBf(long addr, float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            s[i] = Bf16.toBits(v[i]);
        }
        view(addr, 2L * v.length).asShortBuffer().put(s);
    }

    int[] i32(long addr, int n) {
        int[] out = new int[n];
        view(addr, 4L * n).asIntBuffer().get(out);
        return out;
    }

    private static void aligned(long addr, int align, String what) {
        if (addr % align != 0) {
            throw new IllegalArgumentException(what + " at " + addr + " is not " + align + "-byte aligned");
        }
    }

    @Override
    public void zero(long address, long bytes) {
        ByteBuffer b = view(address, bytes);
        for (int i = 0; i < bytes; i++) {
            b.put(i, (byte) 0);
        }
    }

    @Override
    public void upload(long dst, Pointer src, long bytes) {
        view(dst, bytes); // bounds
        Pointer.memcpy(new RawPointer(dst, bytes), src, bytes);
    }

    @Override
    public void download(Pointer dst, long src, long bytes) {
        view(src, bytes);
        Pointer.memcpy(dst, new RawPointer(src, bytes), bytes);
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
        gemmCalls++;
        float[] av = bf(a, (long) m * k), bv = bf(b, (long) k * n);
        // Row-major op(A) [m, k] and op(B)ᵀ [n, k] so the inner loop runs over contiguous k.
        float[] ar = new float[m * k], bt = new float[n * k];
        for (int i = 0; i < m; i++) {
            for (int l = 0; l < k; l++) {
                ar[i * k + l] = transA ? av[l * m + i] : av[i * k + l];
            }
        }
        for (int j = 0; j < n; j++) {
            for (int l = 0; l < k; l++) {
                bt[j * k + l] = transB ? bv[j * k + l] : bv[l * n + j];
            }
        }
        float[] cv = beta != 0 ? (cF32 ? f32(c, (long) m * n) : bf(c, (long) m * n)) : new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0;
                for (int l = 0; l < k; l++) {
                    acc += ar[i * k + l] * bt[j * k + l];
                }
                cv[i * n + j] = alpha * acc + (beta != 0 ? beta * cv[i * n + j] : 0f);
            }
        }
        if (cF32) {
            putF32(c, cv);
        } else {
            putBf(c, cv);
        }
    }

    @Override
    public void embeddingForward(long tokens, long wte, long out, int n, int c, int v) {
        kernelCalls++;
        int[] tok = i32(tokens, n);
        float[] o = new float[n * c];
        for (int i = 0; i < n; i++) {
            float[] row = bf(wte + 2L * tok[i] * c, c);
            System.arraycopy(row, 0, o, i * c, c);
        }
        putBf(out, o);
    }

    @Override
    public void embeddingBackward(long tokens, long dout, long dwte, int n, int c, int v) {
        kernelCalls++;
        int[] tok = i32(tokens, n);
        float[] d = bf(dout, (long) n * c);
        for (int i = 0; i < n; i++) {
            long row = dwte + 4L * tok[i] * c;
            float[] w = f32(row, c);
            for (int j = 0; j < c; j++) {
                w[j] += d[i * c + j];
            }
            putF32(row, w);
        }
    }

    @Override
    public void rmsnormForward(long x, long w, long y, long rstd, int n, int c, float eps) {
        kernelCalls++;
        float[] xv = bf(x, (long) n * c), wv = f32(w, c), yv = new float[n * c], r = new float[n];
        for (int i = 0; i < n; i++) {
            float ss = 0;
            for (int j = 0; j < c; j++) {
                ss += xv[i * c + j] * xv[i * c + j];
            }
            r[i] = 1f / (float) Math.sqrt(ss / c + eps);
            for (int j = 0; j < c; j++) {
                yv[i * c + j] = xv[i * c + j] * r[i] * wv[j];
            }
        }
        putBf(y, yv);
        putF32(rstd, r);
    }

    @Override
    public void rmsnormBackward(long dy, long x, long w, long rstd, long dx, long dw, int n, int c) {
        kernelCalls++;
        float[] dyv = bf(dy, (long) n * c), xv = bf(x, (long) n * c), wv = f32(w, c), r = f32(rstd, n);
        float[] dwv = f32(dw, c), dxv = new float[n * c];
        for (int j = 0; j < c; j++) {
            float acc = 0;
            for (int i = 0; i < n; i++) {
                acc += dyv[i * c + j] * xv[i * c + j] * r[i];
            }
            dwv[j] += acc;
        }
        for (int i = 0; i < n; i++) {
            float dot = 0;
            for (int j = 0; j < c; j++) {
                dot += dyv[i * c + j] * wv[j] * xv[i * c + j];
            }
            float k = r[i] * r[i] * r[i] * dot / c;
            for (int j = 0; j < c; j++) {
                dxv[i * c + j] = r[i] * dyv[i * c + j] * wv[j] - k * xv[i * c + j];
            }
        }
        putF32(dw, dwv);
        putBf(dx, dxv);
    }

    @Override
    public void rope(long x, long y, long cos, long sin, int b, int t, int nh, int hd, boolean backward) {
        kernelCalls++;
        int half = hd / 2;
        float[] xv = bf(x, (long) b * t * nh * hd), cs = f32(cos, (long) t * half), sn = f32(sin, (long) t * half);
        float sign = backward ? -1f : 1f;
        float[] out = new float[xv.length];
        for (int bt = 0; bt < b * t; bt++) {
            int pos = bt % t;
            for (int h = 0; h < nh; h++) {
                int base = (bt * nh + h) * hd;
                for (int i = 0; i < half; i++) {
                    float c = cs[pos * half + i], s = sign * sn[pos * half + i];
                    float x1 = xv[base + i], x2 = xv[base + half + i];
                    out[base + i] = x1 * c - x2 * s;
                    out[base + half + i] = x2 * c + x1 * s;
                }
            }
        }
        putBf(y, out);
    }

    @Override
    public void attentionForward(long q, long k, long v, long o, long lse, int b, int t, int nh, int nkv, int hd) {
        kernelCalls++;
        for (long p : new long[] {q, k, v, o}) {
            aligned(p, 16, "attention operand");
        }
        int c = nh * hd, kvd = nkv * hd, g = nh / nkv;
        float[] qv = bf(q, (long) b * t * c), kv = bf(k, (long) b * t * kvd), vv = bf(v, (long) b * t * kvd);
        float[] ov = new float[b * t * c], lv = new float[b * nh * t];
        float scale = (float) (1.0 / Math.sqrt(hd));
        double[] s = new double[t];
        for (int bb = 0; bb < b; bb++) {
            for (int h = 0; h < nh; h++) {
                int kh = h / g;
                for (int i = 0; i < t; i++) {
                    int qo = (bb * t + i) * c + h * hd;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        int ko = (bb * t + j) * kvd + kh * hd;
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += qv[qo + d] * kv[ko + d];
                        }
                        s[j] = scale * dot;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        sum += Math.exp(s[j] - max);
                    }
                    double l = max + Math.log(sum);
                    lv[(bb * nh + h) * t + i] = (float) l;
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++) {
                            acc += Math.exp(s[j] - l) * vv[(bb * t + j) * kvd + kh * hd + d];
                        }
                        ov[qo + d] = (float) acc;
                    }
                }
            }
        }
        putBf(o, ov);
        putF32(lse, lv);
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
        kernelCalls++;
        for (long p : new long[] {q, k, v, o, dO, dq, dk, dv}) {
            aligned(p, 16, "attention operand");
        }
        view(workspace, attentionWorkspaceBytes(b, nh, t));
        int c = nh * hd, kvd = nkv * hd, g = nh / nkv;
        float[] qv = bf(q, (long) b * t * c), kv = bf(k, (long) b * t * kvd), vv = bf(v, (long) b * t * kvd);
        float[] ov = bf(o, (long) b * t * c), dov = bf(dO, (long) b * t * c), lv = f32(lse, (long) b * nh * t);
        float[] dqv = new float[b * t * c], dkv = new float[b * t * kvd], dvv = new float[b * t * kvd];
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int bb = 0; bb < b; bb++) {
            for (int h = 0; h < nh; h++) {
                int kh = h / g;
                for (int i = 0; i < t; i++) {
                    int qo = (bb * t + i) * c + h * hd;
                    // D_i = dO_i · O_i
                    double dsum = 0;
                    for (int d = 0; d < hd; d++) {
                        dsum += dov[qo + d] * ov[qo + d];
                    }
                    for (int j = 0; j <= i; j++) {
                        int ko = (bb * t + j) * kvd + kh * hd;
                        double dot = 0, dp = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += qv[qo + d] * kv[ko + d];
                            dp += dov[qo + d] * vv[ko + d];
                        }
                        double p = Math.exp(scale * dot - lv[(bb * nh + h) * t + i]);
                        double ds = p * (dp - dsum);
                        for (int d = 0; d < hd; d++) {
                            dqv[qo + d] += (float) (scale * ds * kv[ko + d]);
                            dkv[ko + d] += (float) (scale * ds * qv[qo + d]);
                            dvv[ko + d] += (float) (p * dov[qo + d]);
                        }
                    }
                }
            }
        }
        putBf(dq, dqv);
        putBf(dk, dkv);
        putBf(dv, dvv);
    }

    @Override
    public long attentionWorkspaceBytes(int b, int nh, int t) {
        return 4L * b * nh * t;
    }

    @Override
    public void swigluForward(long g, long u, long h, long n) {
        kernelCalls++;
        float[] gv = bf(g, n), uv = bf(u, n), hv = new float[(int) n];
        for (int i = 0; i < n; i++) {
            float sig = 1f / (1f + (float) Math.exp(-gv[i]));
            hv[i] = gv[i] * sig * uv[i];
        }
        putBf(h, hv);
    }

    @Override
    public void swigluBackward(long dh, long g, long u, long dg, long du, long n) {
        kernelCalls++;
        float[] d = bf(dh, n), gv = bf(g, n), uv = bf(u, n), dgv = new float[(int) n], duv = new float[(int) n];
        for (int i = 0; i < n; i++) {
            float sig = 1f / (1f + (float) Math.exp(-gv[i]));
            dgv[i] = d[i] * uv[i] * sig * (1f + gv[i] * (1f - sig));
            duv[i] = d[i] * gv[i] * sig;
        }
        putBf(dg, dgv);
        putBf(du, duv);
    }

    @Override
    public void add(long a, long b, long y, long n) {
        kernelCalls++;
        float[] av = bf(a, n), bv = bf(b, n);
        for (int i = 0; i < n; i++) {
            av[i] += bv[i];
        }
        putBf(y, av);
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
        kernelCalls++;
        float[] x = f32(logits, (long) n * v), mx = new float[n], se = new float[n], tl = new float[n];
        float[] loss = new float[n];
        int[] y = i32(targets, n);
        for (int i = 0; i < n; i++) {
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                m = Math.max(m, x[i * v + j]);
            }
            double s = 0;
            for (int j = 0; j < v; j++) {
                s += Math.exp(x[i * v + j] - m);
            }
            mx[i] = m;
            se[i] = (float) s;
            boolean valid = y[i] != -100;
            tl[i] = valid ? x[i * v + y[i]] : 0f;
            loss[i] = valid ? (float) (Math.log(se[i]) + m - tl[i]) : 0f;
            if (dlogits != 0) {
                for (int j = 0; j < v; j++) {
                    float gr = 0;
                    if (valid) {
                        gr = (float) Math.exp(x[i * v + j] - m) / se[i];
                        if (j == y[i]) {
                            gr -= 1f;
                        }
                        gr *= scale;
                    }
                    x[i * v + j] = gr;
                }
            }
        }
        putF32(rowMax, mx);
        putF32(rowSumExp, se);
        putF32(targetLogit, tl);
        putF32(lossRows, loss);
        if (dlogits != 0) {
            putF32(dlogits, x);
        }
    }

    @Override
    public void castToCompute(long src, long dst, long n) {
        kernelCalls++;
        putBf(dst, f32(src, n));
    }

    @Override
    public int sumPartials() {
        return PARTIALS;
    }

    @Override
    public void sum(long x, long n, boolean squared, long partials, long out) {
        kernelCalls++;
        view(partials, 4L * PARTIALS);
        float[] xv = f32(x, n);
        double s = 0;
        for (float f : xv) {
            s += squared ? (double) f * f : f;
        }
        putF32(out, new float[] {(float) s});
    }

    @Override
    public void clipFactor(long sumSq, float maxNorm, long out, long norm) {
        kernelCalls++;
        float nrm = (float) Math.sqrt(f32(sumSq, 1)[0]);
        putF32(norm, new float[] {nrm});
        putF32(out, new float[] {Math.min(1f, maxNorm / (nrm + 1e-6f))});
    }

    @Override
    public void adamw(long p, long g, long m, long v, long pCompute, long n, AdamWKernel.Hyper h, long clipScale) {
        kernelCalls++;
        float[] pv = f32(p, n), gv = f32(g, n), mv = f32(m, n), vv = f32(v, n);
        float gs = clipScale != 0 ? f32(clipScale, 1)[0] : 1f;
        float stepSize = h.stepSize(), bc2 = h.bias2Sqrt();
        for (int i = 0; i < n; i++) {
            float grad = gv[i] * gs;
            mv[i] = h.beta1() * mv[i] + (1f - h.beta1()) * grad;
            vv[i] = h.beta2() * vv[i] + (1f - h.beta2()) * grad * grad;
            float pi = pv[i] * (1f - h.lr() * h.weightDecay());
            pv[i] = pi - stepSize * mv[i] / ((float) Math.sqrt(vv[i]) / bc2 + h.eps());
        }
        putF32(p, pv);
        putF32(m, mv);
        putF32(v, vv);
        if (pCompute != 0) {
            putBf(pCompute, pv);
        }
    }

    @Override
    public void close() {
        for (Block b : blocks.values()) {
            b.memory().close();
        }
        blocks.clear();
    }
}
