// Host-side bookkeeping of the GPU model, no GPU needed: the parameter layout equals LlamaModel's,
// the memory plan equals what the constructor allocates, batch validation, the FLOP formula on
// hand-computed numbers, and the per-phase time attribution.
package dev.shoal.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.backend.BackendLlama;
import dev.shoal.runtime.backend.ParamLayout;
import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BackendLlamaHostLogicTest {
    @Test
    void layoutHasLlamaModelsNamesOffsetsAndShapes() {
        for (String preset : List.of("tiny", "small")) {
            LlamaConfig cfg = LlamaConfig.preset(preset);
            ParamLayout layout = new ParamLayout(cfg);
            try (Compute cx = Compute.reference()) {
                LlamaModel m = new LlamaModel(cfg, 1, 1, cx, false);
                assertEquals(m.params().size(), layout.entries().size());
                int i = 0;
                for (Map.Entry<String, Tensor> e : m.params().entrySet()) {
                    ParamLayout.Entry le = layout.entries().get(i++);
                    assertEquals(e.getKey(), le.name());
                    assertEquals((e.getValue().address() - m.flatParams().address()) / 4, le.offset(), le.name());
                    assertEquals(List.of(boxed(e.getValue().shape())), List.of(boxed(le.shape())), le.name());
                    assertEquals(e.getValue().rank() >= 2, le.decay(), le.name());
                }
                assertEquals(m.flatParams().numel(), layout.totalElems());
            }
            ParamLayout.Block b1 = layout.block(1);
            assertEquals(layout.entry("model.layers.1.self_attn.k_proj.weight").offset(), b1.wk());
            assertEquals(layout.entry("model.layers.1.mlp.down_proj.weight").offset(), b1.down());
            assertEquals(b1.wq() + (long) cfg.dim() * cfg.dim(), b1.wk(), "q and k adjacent");
            assertFalse(layout.entry("model.norm.weight").decay());
        }
        ParamLayout tiny = new ParamLayout(LlamaConfig.preset("tiny"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> tiny.entry("model.layers.9.mlp.up_proj.weight"))
                .getMessage()
                .contains("model.layers.9.mlp.up_proj.weight"));
    }

    private static Integer[] boxed(int[] a) {
        Integer[] o = new Integer[a.length];
        for (int i = 0; i < a.length; i++) {
            o[i] = a[i];
        }
        return o;
    }

    @Test
    void memoryPlanEqualsWhatTheModelAllocates() {
        for (String preset : List.of("tiny", "small")) {
            LlamaConfig cfg = LlamaConfig.preset(preset);
            try (HostOps ops = new HostOps();
                    BackendLlama m = new BackendLlama(cfg, 2, 16, AdamWConfig.llama(), 1.0, ops)) {
                long planned = BackendLlama.plannedBytes(
                        cfg,
                        2,
                        16,
                        ops.attentionWorkspaceBytes(2, cfg.heads(), 16),
                        ops.sumPartials(),
                        ops.computeType());
                // The model's own buffers plus the two pinned staging buffers (tokens+targets, 4 floats).
                assertEquals(planned, m.allocatedBytes(), preset);
            }
        }
    }

    @Test
    void llama8bLayerMemoryIsEighteenBytesPerParameterPlusActivations() {
        LlamaConfig cfg = new LlamaConfig("l", 1, 4096, 32, 8, 14336, 256, 1e-5, 5e5, java.util.Optional.empty(), 8192);
        long perLayerParams = 218_112_000L; // 2·4096² + 2·4096·1024 + 3·4096·14336 + 2·4096
        assertEquals(perLayerParams, cfg.paramsPerLayer());
        long bytes = BackendLlama.plannedBytes(cfg, 1, 2048, 4L * 32 * 2048, 1024, TensorBackend.Precision.BF16);
        long params = 18 * cfg.paramCount();
        long acts = bytes - params;
        // Per layer: 2048 tokens × (5·4096 + 2·1024 + 3·14336) bf16 + 2 fp32 rstd + 32 fp32 lse.
        long block = 2048L * ((5 * 4096 + 2 * 1024 + 3 * 14336) * 2 + 8 + 32 * 4);
        assertTrue(acts > block && acts < 3 * block, "activations " + acts + " vs one block " + block);
    }

    @Test
    void batchChecksNameTheOffendingValue() {
        LlamaConfig cfg = LlamaConfig.preset("tiny");
        int[] tok = {1, 2, 3, 4};
        assertEquals(3, BackendLlama.checkBatch(cfg, 1, 4, tok, new int[] {1, -100, 2, 3}, 1, 4));
        assertEquals(0, BackendLlama.checkBatch(cfg, 1, 4, tok, null, 1, 4));
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> BackendLlama.checkBatch(cfg, 1, 4, tok, null, 1, 5))
                        .getMessage()
                        .contains("max T 4"));
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> BackendLlama.checkBatch(cfg, 2, 4, tok, null, 2, 4))
                        .getMessage()
                        .contains("needs 8 tokens"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> BackendLlama.checkBatch(cfg, 1, 4, new int[] {0, -1, 0, 0}, null, 1, 4))
                .getMessage()
                .contains("token -1 at position 1"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> BackendLlama.checkBatch(cfg, 1, 4, tok, new int[] {0, 0, 512, 0}, 1, 4))
                .getMessage()
                .contains("target 512 at position 2"));
    }

    @Test
    void flopFormulaOnHandComputedNumbers() {
        LlamaConfig cfg = new LlamaConfig("l", 4, 4096, 32, 8, 14336, 256, 1e-5, 5e5, java.util.Optional.empty(), 8192);
        // 2·4096² + 2·4096·1024 + 3·4096·14336 = 33554432 + 8388608 + 176160768 = 218103808 per layer.
        assertEquals(4 * 218_103_808L, TrainFlops.blockMatmulParams(cfg));
        double tokens = 2048;
        assertEquals(6 * tokens * 4 * 218_103_808L, TrainFlops.matmulFlops(cfg, 1, 2048, false), 1);
        assertEquals(6 * tokens * (4 * 218_103_808L + 256L * 4096), TrainFlops.matmulFlops(cfg, 1, 2048, true), 1);
        // 6 · L · B · T² · C = 6 · 4 · 2048² · 4096
        assertEquals(6.0 * 4 * 2048 * 2048 * 4096, TrainFlops.attentionFlops(cfg, 1, 2048), 1);
        double total = TrainFlops.stepFlops(cfg, 1, 2048, false);
        assertEquals(0.5, TrainFlops.mfu(total, total / (0.5 * TrainFlops.H100_SXM_BF16_PEAK), 989.4e12), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> TrainFlops.mfu(1, 0, 1));
    }

    @Test
    void phaseTimesGoToTheOpThatStartedTheInterval() {
        List<PhaseProfiler.Kind> kinds = List.of(
                PhaseProfiler.Kind.GEMM,
                PhaseProfiler.Kind.OTHER,
                PhaseProfiler.Kind.GEMM,
                PhaseProfiler.Kind.ATTENTION);
        Map<PhaseProfiler.Kind, Double> t = PhaseProfiler.attribute(kinds, new double[] {0, 2, 2.5, 5.5, 6});
        assertEquals(5.0, t.get(PhaseProfiler.Kind.GEMM), 1e-12);
        assertEquals(0.5, t.get(PhaseProfiler.Kind.OTHER), 1e-12);
        assertEquals(0.5, t.get(PhaseProfiler.Kind.ATTENTION), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> PhaseProfiler.attribute(kinds, new double[] {0, 1}));
    }

    @Test
    void constructorRefusesBadSizes() {
        LlamaConfig cfg = LlamaConfig.preset("tiny");
        try (HostOps ops = new HostOps()) {
            assertThrows(
                    IllegalArgumentException.class, () -> new BackendLlama(cfg, 0, 4, AdamWConfig.llama(), 1, ops));
            assertThrows(
                    IllegalArgumentException.class, () -> new BackendLlama(cfg, 1, 4, AdamWConfig.llama(), 0, ops));
            assertEquals(0, ops.liveBlocks());
        }
    }

    @Test
    void benchFlagsParseValidateAndSizeTheStack() {
        CudaLayerBench.Args d = CudaLayerBench.Args.parse(new String[0]);
        assertEquals(new CudaLayerBench.Args(4, 1, 2048, 256, 3, 10, 0, null), d);
        CudaLayerBench.Args f = CudaLayerBench.Args.parse(
                new String[] {"--layers", "8", "--batch", "2", "--attention", "reference", "--iters", "5"});
        assertEquals(8, f.layers());
        assertEquals(2, f.batch());
        assertEquals(dev.shoal.cuda.kernels.FlashAttention.Impl.REFERENCE, f.attention());
        assertEquals(128, f.config().headDim());
        assertTrue(assertThrows(
                        IllegalArgumentException.class, () -> CudaLayerBench.Args.parse(new String[] {"--iters", "3"}))
                .getMessage()
                .contains("--iters"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class, () -> CudaLayerBench.Args.parse(new String[] {"--layer", "3"}))
                .getMessage()
                .contains("unknown flag --layer"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class, () -> CudaLayerBench.Args.parse(new String[] {"--seq", "x"}))
                .getMessage()
                .contains("--seq needs an integer"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> CudaLayerBench.Args.parse(new String[] {"--attention", "fast"}))
                .getMessage()
                .contains("flash_basic"));
        assertEquals(dev.shoal.cuda.kernels.FlashAttention.Impl.REFERENCE, CudaOps.chooseAttention(null, 16));
        assertEquals(
                dev.shoal.cuda.kernels.FlashAttention.Impl.FLASH_BASIC,
                CudaOps.chooseAttention(dev.shoal.cuda.kernels.FlashAttention.Impl.FLASH_BASIC, 128));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaLayerBench.Args.parse(new String[] {"--seq"}))
                .getMessage()
                .contains("needs a value"));
        // 18 B × 218,112,000 params ≈ 3.93 GB + ≈ 0.29 GB activations per layer: 14 layers in 60 GB.
        long perLayer = CudaLayerBench.planned(d, 2) - CudaLayerBench.planned(d, 1);
        assertTrue(perLayer > 4.1e9 && perLayer < 4.3e9, "per layer " + perLayer);
        assertEquals(14, CudaLayerBench.layersThatFit(d, CudaLayerBench.BUDGET_BYTES));
        // --fit-budget: the card's own memory by default (80 % of free), or a cap in GB (≤ 90 % of free).
        long free = 149_600_000_000L; // an H200's free memory
        assertEquals((long) (free * 0.8), CudaLayerBench.fitBudgetBytes("device", free));
        assertEquals(60_000_000_000L, CudaLayerBench.fitBudgetBytes("60", free));
        assertEquals((long) (free * 0.9), CudaLayerBench.fitBudgetBytes("500", free));
        assertEquals(28, CudaLayerBench.layersThatFit(d, CudaLayerBench.fitBudgetBytes("device", free)));
        for (String bad : new String[] {"", "0", "-3", "lots", "Infinity"}) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> CudaLayerBench.fitBudgetBytes(bad, free))
                    .getMessage()
                    .contains("--fit-budget needs 'device' or a positive number of GB, got '" + bad + "'"));
        }
    }
}
