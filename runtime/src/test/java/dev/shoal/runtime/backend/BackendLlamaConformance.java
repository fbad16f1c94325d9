// The checks every TensorBackend of BackendLlama must pass against the fp32 CPU LlamaModel: forward
// logits and loss, one step's gradients per named tensor, a 20-step AdamW + clipping loss curve, the
// seeded init and the parameter round trip. Run on the production CPU backend (BackendLlamaCpuTest, fp32,
// every build), on the host stand-in of the GPU (BackendLlamaHostTest, bf16, every build) and on a real
// GPU (BackendLlamaGpuTest, tag gpu). The tolerances follow the backend's stated compute type.
//
// fp32 (CpuBackend): the same kernels as LlamaModel; only the attention path (TiledAttention's one
// strip per (batch, KV head) recomputing scores in backward, where LlamaModel keeps the T×T
// probabilities), float per-row losses and AdamW's float hyper-parameters differ, so the numbers agree
// to summation order: logits relative L2 ≤ 1e-5, loss ≤ 1e-6, gradients ≤ 1e-4, 20-step curve and
// grad norms ≤ 1e-5 relative.
//
// bf16 tolerances (activations and GEMM inputs are bf16, relative rounding 2^-9 ≈ 2e-3 per value,
// accumulated over 2 blocks). Measured on the host stand-in, with matrices at 5 × the init scale:
// logits 1.2e-2 / 1.4e-2 (tiny / tiny-hd64), loss 1.4e-4 / 2.6e-4, named gradients up to 1.3e-2 /
// 2.4e-2, 4-step curve within 1e-3, grad norms within 1.5e-2. The GPU adds bf16 rounding inside the
// flash kernels (P and dS), so the bounds are about 3× the host figures:
//   logits: relative L2 error ≤ 4e-2;   loss: relative error ≤ 5e-3;
//   gradients of each named tensor: relative L2 error ≤ 8e-2 (every tensor ≤ 1.6e-1);
//   20-step training (4 on the host stand-in): loss within 3e-2 relative at every step, grad norm within 8e-2 relative.
// A structural mistake (wrong transpose, offset or head mapping) gives relative errors near 1.
package dev.shoal.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.optim.GradClip;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

abstract class BackendLlamaConformance {
    /** Relative tolerances of one compute type (see the header for what each bounds and why). */
    record Tol(double logits, double loss, double grad, double curve, double norm) {
        static final Tol BF16 = new Tol(4e-2, 5e-3, 8e-2, 3e-2, 8e-2);
        static final Tol F32 = new Tol(1e-5, 1e-6, 1e-4, 1e-5, 1e-5);

        static Tol of(TensorBackend.Precision p) {
            return p == TensorBackend.Precision.F32 ? F32 : BF16;
        }
    }

    static Compute CX;

    /** tiny (hd 16: the reference attention kernels) and a variant with hd 64 (the flash kernels). */
    static LlamaConfig config(String name) {
        if (name.equals("tiny-hd64")) {
            return new LlamaConfig(
                    "tiny-hd64",
                    2,
                    128,
                    2,
                    1,
                    256,
                    512,
                    LlamaConfig.LLAMA3_NORM_EPS,
                    LlamaConfig.LLAMA3_ROPE_THETA,
                    Optional.empty(),
                    256);
        }
        return LlamaConfig.preset(name);
    }

    /** A fresh backend for one test (skips the test when it cannot run here). */
    abstract TensorBackend newOps();

    /** Steps of the loss-curve test: 20 on a GPU; fewer on the (slow) host stand-in. */
    int curveSteps() {
        return 20;
    }

    @BeforeAll
    static void openCompute() {
        CX = Compute.cpu(2);
    }

    @AfterAll
    static void closeCompute() {
        CX.close();
    }

    /** Random tokens; targets a fixed function of the token (learnable), a few ignored. */
    static int[][] batch(long seed, int n, int v) {
        Random r = new Random(seed);
        int[] tok = new int[n], tgt = new int[n];
        for (int i = 0; i < n; i++) {
            tok[i] = r.nextInt(v);
            tgt[i] = i % 13 == 5 ? -100 : (tok[i] * 7 + 3) % v;
        }
        return new int[][] {tok, tgt};
    }

    /** A CPU model with LlamaModel.initRandom(seed) and every matrix multiplied by matScale. */
    static LlamaModel cpuModel(LlamaConfig cfg, int b, int t, long seed, float matScale) {
        LlamaModel m = new LlamaModel(cfg, b, t, CX, false);
        m.initRandom(seed);
        if (matScale != 1f) {
            for (Tensor p : m.params().values()) {
                if (p.rank() == 2) {
                    for (long i = 0; i < p.numel(); i++) {
                        p.set(i, p.get(i) * matScale);
                    }
                }
            }
        }
        return m;
    }

    static double relL2(Tensor got, Tensor want) {
        double num = 0, den = 0;
        for (long i = 0; i < want.numel(); i++) {
            double d = got.get(i) - want.get(i);
            num += d * d;
            den += (double) want.get(i) * want.get(i);
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-hd64"})
    void forwardLogitsAndLossMatchCpu(String name) {
        LlamaConfig cfg = config(name);
        int b = 2, t = 40; // T not a multiple of the flash tile (64)
        // Matrices at 5 × 0.02: attention and logits far from uniform, so block errors show in the logits.
        LlamaModel cpu = cpuModel(cfg, b, t, 11, 5f);
        int[][] d = batch(3, b * t, cfg.vocab());
        double want = cpu.forward(d[0], d[1], b, t);
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            Tol tol = Tol.of(ops.computeType());
            gpu.uploadParams(cpu);
            double got = gpu.forward(d[0], d[1], b, t);
            assertEquals(got, gpu.loss());
            double logitsErr = relL2(gpu.logits(), cpu.logits());
            System.out.printf(
                    "%s forward: loss cpu %.6f gpu %.6f (rel %.2e), logits rel L2 %.2e%n",
                    name, want, got, Math.abs(got - want) / want, logitsErr);
            assertTrue(logitsErr <= tol.logits(), name + ": logits relative L2 error " + logitsErr);
            assertTrue(Math.abs(got - want) <= tol.loss() * want, name + ": loss " + got + " vs CPU " + want);
            // Without targets: NaN loss, same logits.
            assertTrue(Double.isNaN(gpu.forward(d[0], null, b, t)));
            assertTrue(relL2(gpu.logits(), cpu.logits()) <= tol.logits());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "tiny-hd64"})
    void oneStepGradientsMatchCpu(String name) {
        LlamaConfig cfg = config(name);
        int b = 2, t = 40;
        LlamaModel cpu = cpuModel(cfg, b, t, 12, 5f);
        int[][] d = batch(4, b * t, cfg.vocab());
        cpu.zeroGrad();
        double cpuLoss = cpu.forward(d[0], d[1], b, t);
        cpu.backward();
        double cpuNorm = GradClip.globalNorm(cpu.grads().values(), CX.par());
        LlamaModel back = new LlamaModel(cfg, 1, 1, CX, false);
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            Tol tol = Tol.of(ops.computeType());
            gpu.uploadParams(cpu);
            BackendLlama.StepResult r = gpu.trainStep(d[0], d[1], b, t, 1e-3);
            gpu.downloadGrads(back);
            assertEquals(cpuLoss, r.loss(), tol.loss() * cpuLoss, name + ": loss");
            assertEquals(cpuNorm, r.gradNorm(), tol.norm() * cpuNorm, name + ": grad norm");
            for (String p : List.of(
                    "model.embed_tokens.weight",
                    "model.layers.0.input_layernorm.weight",
                    "model.layers.0.self_attn.q_proj.weight",
                    "model.layers.0.self_attn.k_proj.weight",
                    "model.layers.0.self_attn.v_proj.weight",
                    "model.layers.0.self_attn.o_proj.weight",
                    "model.layers.1.post_attention_layernorm.weight",
                    "model.layers.1.mlp.gate_proj.weight",
                    "model.layers.1.mlp.up_proj.weight",
                    "model.layers.1.mlp.down_proj.weight",
                    "model.norm.weight",
                    "lm_head.weight")) {
                double err = relL2(back.grads().get(p), cpu.grads().get(p));
                System.out.printf("%s grad %-48s rel L2 %.2e%n", name, p, err);
                assertTrue(err <= tol.grad(), name + ": gradient of " + p + " relative L2 error " + err);
            }
            // Every tensor, looser (tiny gradients such as k_proj's carry more bf16 noise).
            double worst = 0;
            String worstName = "";
            for (Map.Entry<String, Tensor> e : cpu.grads().entrySet()) {
                double err = relL2(back.grads().get(e.getKey()), e.getValue());
                if (err > worst) {
                    worst = err;
                    worstName = e.getKey();
                }
            }
            System.out.printf("%s worst gradient %s rel L2 %.2e%n", name, worstName, worst);
            assertTrue(worst <= 2 * tol.grad(), name + ": gradient of " + worstName + " relative L2 error " + worst);
        }
    }

    @Test
    void accumulatedMicroBatchesThenUpdateMatchCpuAccumulation() {
        // The split step a data-parallel rank runs: zeroGrads, accumulate(1/2) twice, (all-reduce), update.
        LlamaConfig cfg = config("tiny");
        int b = 2, t = 40;
        double lr = 2e-3;
        LlamaModel cpu = cpuModel(cfg, b, t, 31, 5f);
        int[][] m0 = batch(40, b * t, cfg.vocab()), m1 = batch(41, b * t, cfg.vocab());
        cpu.zeroGrad();
        double l0 = cpu.forward(m0[0], m0[1], b, t);
        cpu.backward(0.5f);
        double l1 = cpu.forward(m1[0], m1[1], b, t);
        cpu.backward(0.5f);
        double cpuNorm = GradClip.globalNorm(cpu.grads().values(), CX.par());
        LlamaModel back = new LlamaModel(cfg, 1, 1, CX, false);
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            Tol tol = Tol.of(ops.computeType());
            gpu.uploadParams(cpu);
            gpu.zeroGrads();
            assertEquals(l0, gpu.accumulate(m0[0], m0[1], b, t, 0.5), tol.loss() * l0, "micro-batch 0 loss");
            assertEquals(l1, gpu.accumulate(m1[0], m1[1], b, t, 0.5), tol.loss() * l1, "micro-batch 1 loss");
            gpu.downloadGrads(back);
            double err = relL2(
                    back.grads().get("model.layers.1.mlp.down_proj.weight"),
                    cpu.grads().get("model.layers.1.mlp.down_proj.weight"));
            assertTrue(err <= tol.grad(), "accumulated down_proj gradient: relative L2 error " + err);
            double norm = gpu.update(lr);
            assertEquals(cpuNorm, norm, tol.norm() * cpuNorm, "pre-clip gradient norm of the accumulated step");
            assertEquals(1, gpu.stepCount());
            GradClip.clipGlobalNorm(cpu.grads().values(), 1.0, CX.par());
            new AdamW(cpu.params(), cpu.grads(), AdamWConfig.llama(), CX.par()).step(lr);
            LlamaModel after = new LlamaModel(cfg, 1, 1, CX, false);
            gpu.downloadParams(after);
            double wErr = relL2(
                    after.params().get("model.layers.0.self_attn.q_proj.weight"),
                    cpu.params().get("model.layers.0.self_attn.q_proj.weight"));
            System.out.printf(
                    "accumulated step: norm cpu %.5f gpu %.5f, q_proj weights rel L2 %.2e%n", cpuNorm, norm, wErr);
            assertTrue(wErr <= tol.grad(), "weights after the accumulated step: relative L2 error " + wErr);
        }
    }

    @Test
    void trainingStepsFollowTheCpuLossCurve() {
        LlamaConfig cfg = config("tiny");
        int b = 4, t = 64, steps = curveSteps();
        double lr = 3e-3;
        LlamaModel cpu = cpuModel(cfg, b, t, 21, 1f);
        AdamW opt = new AdamW(cpu.params(), cpu.grads(), AdamWConfig.llama(), CX.par());
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            Tol tol = Tol.of(ops.computeType());
            gpu.uploadParams(cpu);
            double first = 0, lastCpu = 0;
            for (int s = 0; s < steps; s++) {
                int[][] d = batch(100 + s, b * t, cfg.vocab());
                cpu.zeroGrad();
                double cpuLoss = cpu.forward(d[0], d[1], b, t);
                cpu.backward();
                double cpuNorm = GradClip.clipGlobalNorm(cpu.grads().values(), 1.0, CX.par());
                opt.step(lr);
                BackendLlama.StepResult r = gpu.trainStep(d[0], d[1], b, t, lr);
                System.out.printf(
                        "step %2d loss cpu %.5f gpu %.5f  norm cpu %.4f gpu %.4f%n",
                        s, cpuLoss, r.loss(), cpuNorm, r.gradNorm());
                assertEquals(cpuLoss, r.loss(), tol.curve() * cpuLoss, "loss at step " + s);
                assertEquals(cpuNorm, r.gradNorm(), tol.norm() * cpuNorm, "grad norm at step " + s);
                if (s == 0) {
                    first = cpuLoss;
                }
                lastCpu = cpuLoss;
            }
            assertEquals(steps, gpu.stepCount());
            assertTrue(lastCpu < first - 0.02 * steps, "the CPU run should learn: " + first + " -> " + lastCpu);
        }
    }

    @Test
    void initRandomAndParameterRoundTripMatchTheCpuModel() {
        LlamaConfig cfg = config("tiny");
        LlamaModel cpu = cpuModel(cfg, 1, 4, 77, 1f);
        LlamaModel back = new LlamaModel(cfg, 1, 1, CX, false);
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, 1, 4, AdamWConfig.llama(), 1.0, ops)) {
            gpu.initRandom(77, CX.par());
            gpu.downloadParams(back);
            assertEquals(0.0, relL2(back.flatParams(), cpu.flatParams()), "seeded init must equal LlamaModel's");
            cpu.params().get("model.norm.weight").fill(0.5f);
            gpu.uploadParams(cpu);
            gpu.downloadParams(back);
            for (long i = 0; i < cpu.flatParams().numel(); i++) {
                assertEquals(cpu.flatParams().get(i), back.flatParams().get(i), "element " + i);
            }
        }
    }

    @Test
    void badBatchesAreRefusedWithTheValueNamed() {
        LlamaConfig cfg = config("tiny");
        try (TensorBackend ops = newOps();
                BackendLlama gpu = new BackendLlama(cfg, 2, 8, AdamWConfig.llama(), 1.0, ops)) {
            int[] tok = new int[16], tgt = new int[16];
            assertTrue(assertThrows(IllegalArgumentException.class, () -> gpu.trainStep(tok, tgt, 3, 8, 1e-3))
                    .getMessage()
                    .contains("max B 2"));
            tok[5] = cfg.vocab();
            assertTrue(assertThrows(IllegalArgumentException.class, () -> gpu.trainStep(tok, tgt, 2, 8, 1e-3))
                    .getMessage()
                    .contains("position 5"));
            tok[5] = 0;
            tgt[3] = -7;
            assertTrue(assertThrows(IllegalArgumentException.class, () -> gpu.trainStep(tok, tgt, 2, 8, 1e-3))
                    .getMessage()
                    .contains("target -7"));
        }
    }
}
