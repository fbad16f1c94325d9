// BackendLlama's conformance checks on the production CPU backend (fp32: OpenBLAS and the CPU engine's
// ops, two threads): the backend model must give LlamaModel's numbers to fp32 summation order. Every
// build. Also the finite-difference check LlamaModel passes (every parameter tensor against central
// differences of the backend model's own loss), the bit-for-bit independence of the thread count, and
// that every buffer is returned on close.
package dev.shoal.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.GradCheck;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BackendLlamaCpuTest extends BackendLlamaConformance {
    @Override
    TensorBackend newOps() {
        return new CpuBackend(CX);
    }

    static int[] randomTokens(Random r, int n, int v) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(v);
        return x;
    }

    /** LlamaModelTest's whole-model gradient check, on the backend model: a few elements of every tensor. */
    @Test
    void wholeModelGradientsMatchFiniteDifferences() {
        LlamaConfig cfg = LlamaConfig.preset("tiny");
        Random r = new Random(5);
        int b = 2, t = 7;
        LlamaModel host = new LlamaModel(cfg, 1, 1, CX, false);
        // Larger weights than the 0.02 init so activations and gradients are well away from zero.
        for (Tensor p : host.params().values()) {
            for (long i = 0; i < p.numel(); i++) {
                p.set(i, (float) (p.rank() == 1 ? 1 + 0.2 * r.nextGaussian() : 0.15 * r.nextGaussian()));
            }
        }
        int[] tokens = randomTokens(r, b * t, cfg.vocab());
        int[] targets = randomTokens(r, b * t, cfg.vocab());
        targets[3] = CrossEntropy.IGNORE_INDEX;
        try (CpuBackend ops = new CpuBackend(CX);
                BackendLlama m = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            m.uploadParams(host);
            m.zeroGrads();
            m.accumulate(tokens, targets, b, t, 1.0);
            m.downloadGrads(host);
            Tensor grads = host.flatGrads().copy();
            // On fp32 the master weights are what the model computes with: perturb them in place.
            Tensor master = Tensor.wrap(new RawPointer(m.masterAddress(), 4 * grads.numel()), 0, (int) grads.numel());
            double worst = 0;
            for (Map.Entry<String, Tensor> e : host.params().entrySet()) {
                long off = m.layout().entry(e.getKey()).offset();
                int numel = (int) e.getValue().numel();
                Tensor p = master.flatRange(off, numel);
                Tensor g = grads.flatRange(off, numel);
                if (e.getKey().equals("model.embed_tokens.weight")) {
                    // Only the rows of tokens in the batch have a gradient: check the row of the first token.
                    int c = cfg.dim();
                    p = p.flatRange((long) tokens[0] * c, c);
                    g = g.flatRange((long) tokens[0] * c, c);
                }
                // The loss in double from the model's fp32 logits (the model's own loss is a float sum, whose
                // rounding, 5e-7 at loss 6, is too coarse for differences over h = 1e-2).
                GradCheck.Result res = GradCheck.check(
                        e.getKey(),
                        p,
                        g,
                        () -> {
                            m.forward(tokens, null, b, t);
                            return CrossEntropy.forward(CX, m.logits(), targets, 0);
                        },
                        6,
                        1e-2,
                        r);
                GradCheck.assertWithin(res, 1e-2);
                worst = Math.max(worst, res.maxErr());
            }
            System.out.println("backend model (CPU) gradcheck: worst relative error " + worst);
        }
    }

    /** Gradients and losses bit for bit the same on one and three threads, as LlamaModel's. */
    @Test
    void gradientsAreBitIdenticalOnOneAndThreeThreads() {
        LlamaConfig cfg = LlamaConfig.preset("tiny");
        Random r = new Random(13);
        int b = 2, t = 40;
        int[] x = randomTokens(r, b * t, cfg.vocab()), y = randomTokens(r, b * t, cfg.vocab());
        float[][] grads = new float[2][];
        double[] losses = new double[2];
        int[] threads = {1, 3};
        for (int k = 0; k < 2; k++) {
            try (Compute cx = Compute.cpu(threads[k]);
                    CpuBackend ops = new CpuBackend(cx);
                    BackendLlama m = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
                m.initRandom(5, cx.par());
                m.zeroGrads();
                losses[k] = m.accumulate(x, y, b, t, 1.0);
                LlamaModel back = new LlamaModel(cfg, 1, 1, cx, false);
                m.downloadGrads(back);
                grads[k] = back.flatGrads().toArray();
            }
        }
        assertEquals(Double.doubleToLongBits(losses[0]), Double.doubleToLongBits(losses[1]));
        for (int i = 0; i < grads[0].length; i++) {
            assertEquals(Float.floatToIntBits(grads[0][i]), Float.floatToIntBits(grads[1][i]), "gradient " + i);
        }
    }

    @Test
    void everyBufferIsReturnedOnClose() {
        CpuBackend ops = new CpuBackend(CX);
        try {
            try (BackendLlama m = new BackendLlama(LlamaConfig.preset("tiny"), 2, 600, AdamWConfig.llama(), 1.0, ops)) {
                // T 600 runs the 64-row blocks of the tiled attention; T 40 one strip, in the same buffers.
                Random r = new Random(3);
                m.initRandom(1, CX.par());
                int v = m.config().vocab();
                m.trainStep(randomTokens(r, 1200, v), randomTokens(r, 1200, v), 2, 600, 1e-3);
                m.trainStep(randomTokens(r, 80, v), randomTokens(r, 80, v), 2, 40, 1e-3);
            }
            // The model's buffers are back; its two pinned staging buffers live as long as the backend, as
            // on CUDA (CudaOps frees pinned memory when it closes).
            assertEquals(2, ops.liveBlocks());
        } finally {
            ops.close();
        }
        assertEquals(0, ops.liveBlocks());
    }
}
