// Benchmark: training steps (forward + backward + global clip + AdamW) of a stack of Llama-3-8B-shaped
// decoder layers on one GPU, through BackendLlama. Prints tokens/s, MFU and a GEMM / attention / rest
// split of the step's GPU time.
//
// Shape: dim 4096, 32 heads, 8 KV heads, FFN 14336, seq 2048, B 1 (flags change B, T, layers), the final
// RMSNorm, and a small LM head (vocab 256 by default, --vocab) so the step is a real next-token loss;
// the embedding is a gather. Memory per layer: 18 bytes per parameter (fp32 master, bf16 copy, fp32
// gradient, fp32 AdamW m and v) + its activations, printed before the run together with the largest
// layer count that fits in 60 GB.
//
// FLOPs (TrainFlops): 6 · tokens · (layers · (2C² + 2C·kvDim + 3C·F) + V·C) + 6 · layers · B · T² · C
// (causal attention), against the H100 SXM dense bf16 peak 989.4 TFLOP/s. The line "stack only" drops
// the V·C head term: that is torch_kernel_bench.py's "causal 6N+6LCT" (its N also counts the norm weights).
//
// Usage: CudaLayerBench [--layers 4|fit] [--fit-budget device|GB] [--batch 1] [--seq 2048] [--vocab 256]
//                       [--warmup 3] [--iters 10] [--device 0] [--attention flash|flash_basic|reference]
// `--layers fit` takes the most layers whose planned memory fits the budget (the issue's "as many layers as
// fit"): by default the card's own memory, 80 % of what is free (the pool rounds blocks up to size
// classes, up to 9 % over the plan); `--fit-budget 60` caps it at 60 GB, an H100's share. The chosen
// count is printed on the shape line.
// Guarantees: step times come from CUDA events (median of --iters >= 5); runs in well under 60 s at the
// defaults on an H100 once the kernels are compiled (NVRTC caches them on disk).
package dev.shoal.runtime.cuda;

import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.CudaEvent;
import dev.shoal.cuda.kernels.FlashAttention;
import dev.shoal.runtime.backend.BackendLlama;
import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Parallel;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

public final class CudaLayerBench {
    private CudaLayerBench() {}

    /** Memory budget the "layers that fit" line assumes (an H100's share; `--fit-budget 60`). */
    public static final long BUDGET_BYTES = 60L * 1000 * 1000 * 1000;

    /** Share of the device's free memory `--layers fit` plans for by default. */
    static final double DEVICE_FIT_SHARE = 0.8;

    /** Command-line settings; every value validated with the flag named. */
    public record Args(
            int layers,
            int batch,
            int seq,
            int vocab,
            int warmup,
            int iters,
            int device,
            FlashAttention.Impl attention) {
        public Args {
            if (layers < 1 || batch < 1 || seq < 1 || vocab < 1 || warmup < 0 || device < 0) {
                throw new IllegalArgumentException("--layers, --batch, --seq, --vocab must be >= 1 and --warmup,"
                        + " --device >= 0; got layers " + layers + ", batch " + batch + ", seq " + seq + ", vocab "
                        + vocab + ", warmup " + warmup + ", device " + device);
            }
            if (iters < 5) {
                throw new IllegalArgumentException(
                        "--iters must be >= 5 (the median of at least 5 steps), got " + iters);
            }
        }

        public static Args parse(String[] argv) {
            int layers = 4, batch = 1, seq = 2048, vocab = 256, warmup = 3, iters = 10, device = 0;
            FlashAttention.Impl attention = null;
            for (int i = 0; i < argv.length; i++) {
                String flag = argv[i];
                if (i + 1 >= argv.length) {
                    throw new IllegalArgumentException("flag " + flag + " needs a value");
                }
                String v = argv[++i];
                switch (flag) {
                    case "--layers" -> layers = intArg(flag, v);
                    case "--batch" -> batch = intArg(flag, v);
                    case "--seq" -> seq = intArg(flag, v);
                    case "--vocab" -> vocab = intArg(flag, v);
                    case "--warmup" -> warmup = intArg(flag, v);
                    case "--iters" -> iters = intArg(flag, v);
                    case "--device" -> device = intArg(flag, v);
                    case "--attention" -> {
                        try {
                            attention = FlashAttention.Impl.valueOf(v.toUpperCase(Locale.ROOT));
                        } catch (IllegalArgumentException e) {
                            throw new IllegalArgumentException("--attention must be one of "
                                    + Arrays.toString(FlashAttention.Impl.values())
                                            .toLowerCase(Locale.ROOT)
                                    + ", got '" + v + "'");
                        }
                    }
                    default ->
                        throw new IllegalArgumentException("unknown flag " + flag + "; known: --layers --batch"
                                + " --seq --vocab --warmup --iters --device --attention");
                }
            }
            return new Args(layers, batch, seq, vocab, warmup, iters, device, attention);
        }

        private static int intArg(String flag, String v) {
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(flag + " needs an integer, got '" + v + "'");
            }
        }

        /** The Llama-3-8B layer shape with this many layers and this head vocabulary. */
        public LlamaConfig config() {
            return new LlamaConfig(
                    "llama3-8b-layers",
                    layers,
                    4096,
                    32,
                    8,
                    14336,
                    vocab,
                    LlamaConfig.LLAMA3_NORM_EPS,
                    LlamaConfig.LLAMA3_ROPE_THETA,
                    Optional.empty(),
                    Math.max(8192, seq));
        }
    }

    /** Planned device bytes of a model with {@code layers} layers (attention workspace as the kernels size it). */
    static long planned(Args a, int layers) {
        LlamaConfig c = new Args(
                        layers, a.batch(), a.seq(), a.vocab(), a.warmup(), a.iters(), a.device(), a.attention())
                .config();
        return BackendLlama.plannedBytes(
                c,
                a.batch(),
                a.seq(),
                FlashAttention.workspaceBytes(a.batch(), 32, a.seq()),
                1024,
                TensorBackend.Precision.BF16);
    }

    /**
     * The bytes `--layers fit` plans for: "device" is {@link #DEVICE_FIT_SHARE} of the free memory; a number
     * of GB is that, but never more than 90 % of the free memory.
     */
    static long fitBudgetBytes(String spec, long freeBytes) {
        if (spec.equals("device")) return (long) (freeBytes * DEVICE_FIT_SHARE);
        double gb;
        try {
            gb = Double.parseDouble(spec);
        } catch (NumberFormatException e) {
            gb = -1;
        }
        if (!(gb > 0) || Double.isInfinite(gb)) {
            throw new IllegalArgumentException(
                    "--fit-budget needs 'device' or a positive number of GB, got '" + spec + "'");
        }
        return Math.min((long) (gb * 1e9), (long) (freeBytes * 0.9));
    }

    /** The most layers whose planned memory fits {@code budget} bytes (0 if not even one). */
    static int layersThatFit(Args a, long budget) {
        int l = 0;
        while (l < 1000 && planned(a, l + 1) <= budget) {
            l++;
        }
        return l;
    }

    public static void main(String[] argv) {
        Args a;
        boolean fit = false;
        String fitBudget = "device";
        try {
            java.util.List<String> av = new java.util.ArrayList<>(Arrays.asList(argv));
            for (int i = 0; i + 1 < av.size(); i++) {
                if (av.get(i).equals("--layers") && av.get(i + 1).equals("fit")) {
                    av.set(i + 1, "1"); // resolved below, once the device's free memory is known
                    fit = true;
                }
            }
            int at = av.indexOf("--fit-budget");
            if (at >= 0) {
                fitBudget = at + 1 < av.size() ? av.get(at + 1) : "";
                fitBudgetBytes(fitBudget, 1); // validates the value before the GPU is touched
                if (!fit) throw new IllegalArgumentException("--fit-budget applies only with --layers fit");
                av.subList(at, Math.min(at + 2, av.size())).clear();
            }
            a = Args.parse(av.toArray(String[]::new));
        } catch (IllegalArgumentException e) {
            System.err.println("CudaLayerBench: " + e.getMessage());
            System.exit(2);
            return;
        }
        String why = CudaOps.unavailableReason();
        if (!why.isEmpty()) {
            System.err.println("CudaLayerBench needs a CUDA GPU with cuBLAS and NVRTC:\n" + why);
            System.exit(2);
            return;
        }
        long t0 = System.nanoTime();
        if (fit) {
            CudaDevice.setCurrent(a.device());
            long budget = fitBudgetBytes(fitBudget, CudaDevice.memInfo().freeBytes());
            int n = layersThatFit(a, budget);
            if (n < 1) {
                System.err.printf("CudaLayerBench: not even one layer fits in %.1f GB%n", budget / 1e9);
                System.exit(2);
                return;
            }
            a = new Args(n, a.batch(), a.seq(), a.vocab(), a.warmup(), a.iters(), a.device(), a.attention());
            System.out.printf("--layers fit: %d layers (planned memory within %.1f GB)%n", n, budget / 1e9);
        }
        LlamaConfig cfg = a.config();
        int b = a.batch(), t = a.seq(), n = b * t;
        long perLayer = planned(a, 2) - planned(a, 1);
        long total = planned(a, a.layers());
        CudaDevice dev = CudaDevice.get(a.device());
        CudaDevice.setCurrent(a.device());
        CudaDevice.MemInfo mem = CudaDevice.memInfo();
        System.out.printf("device %s, %s%n", dev, CudaDevice.versions());
        System.out.printf(
                "shape: %d layers × (C 4096, NH 32, NKV 8, F 14336), B %d × T %d, LM head vocab %d, final norm%n",
                a.layers(), b, t, a.vocab());
        System.out.printf(
                "memory: %.2f GB per layer (18 B/param × %,d params + activations), %.2f GB planned in all;"
                        + " %d layers fit in 60 GB; device free %.1f GB%n",
                perLayer / 1e9,
                cfg.paramsPerLayer(),
                total / 1e9,
                layersThatFit(a, BUDGET_BYTES),
                mem.freeBytes() / 1e9);
        if (total > mem.freeBytes() * 0.95) {
            System.err.printf(
                    "CudaLayerBench: %d layers need %.1f GB, the device has %.1f GB free; use --layers %d%n",
                    a.layers(), total / 1e9, mem.freeBytes() / 1e9, layersThatFit(a, (long) (mem.freeBytes() * 0.9)));
            System.exit(2);
            return;
        }
        try (CudaOps ops = CudaOps.create(a.device(), a.attention());
                Parallel par = new Parallel(Runtime.getRuntime().availableProcessors());
                BackendLlama model = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops);
                PhaseProfiler prof = new PhaseProfiler()) {
            System.out.printf(
                    "kernels ready (attention %s); allocating and initialising took %.1f s so far%n",
                    ops.attentionImpl(cfg.headDim()), (System.nanoTime() - t0) / 1e9);
            model.initRandom(1234, par);
            Random r = new Random(7);
            int[] tokens = new int[n], targets = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = r.nextInt(cfg.vocab());
                targets[i] = r.nextInt(cfg.vocab());
            }
            double lr = 1e-4;
            for (int i = 0; i < a.warmup(); i++) {
                BackendLlama.StepResult s = model.trainStep(tokens, targets, b, t, lr);
                System.out.printf("warm-up step %d: loss %.4f, grad norm %.4f%n", i, s.loss(), s.gradNorm());
            }
            double[] ms = new double[a.iters()];
            BackendLlama.StepResult last = null;
            try (CudaEvent start = CudaEvent.create(true);
                    CudaEvent end = CudaEvent.create(true)) {
                for (int i = 0; i < a.iters(); i++) {
                    start.record(ops.stream());
                    last = model.trainStep(tokens, targets, b, t, lr);
                    end.record(ops.stream());
                    ms[i] = CudaEvent.elapsedMs(start, end);
                }
            }
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double median = sorted.length % 2 == 1
                    ? sorted[sorted.length / 2]
                    : 0.5 * (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]);
            // One more step with an event before every op, for the phase split (not in the timing above).
            ops.setProfiler(prof);
            prof.reset();
            model.trainStep(tokens, targets, b, t, lr);
            prof.finish(ops.stream());
            ops.setProfiler(null);
            Map<PhaseProfiler.Kind, Double> phase = prof.totalsMs();
            double sec = median / 1e3;
            double flops = TrainFlops.stepFlops(cfg, b, t, true);
            double stackFlops = TrainFlops.stepFlops(cfg, b, t, false);
            double peak = TrainFlops.H100_SXM_BF16_PEAK;
            System.out.printf(
                    "%nsteps (ms, %d timed after %d warm-up): %s; last loss %.4f, grad norm %.4f%n",
                    a.iters(), a.warmup(), Arrays.toString(round(ms)), last.loss(), last.gradNorm());
            System.out.println("| metric | value |");
            System.out.println("|---|---|");
            System.out.printf("| step time (median) | %.2f ms |%n", median);
            System.out.printf("| tokens/s | %,.0f |%n", n / sec);
            System.out.printf("| model FLOPs per step (incl. LM head) | %.3f TFLOP |%n", flops / 1e12);
            System.out.printf(
                    "| MFU (incl. LM head) | %.1f %% (%.0f TFLOP/s of %.1f) |%n",
                    100 * TrainFlops.mfu(flops, sec, peak), flops / sec / 1e12, peak / 1e12);
            System.out.printf(
                    "| MFU stack only (torch_kernel_bench causal 6N+6LCT) | %.1f %% |%n",
                    100 * TrainFlops.mfu(stackFlops, sec, peak));
            double profTotal =
                    phase.values().stream().mapToDouble(Double::doubleValue).sum();
            double gemmMs = phase.get(PhaseProfiler.Kind.GEMM), attMs = phase.get(PhaseProfiler.Kind.ATTENTION);
            System.out.printf("| profiled step (event before every op) | %.2f ms |%n", profTotal);
            System.out.printf(
                    "| GEMMs | %.2f ms (%.0f %%), %.0f TFLOP/s |%n",
                    gemmMs, 100 * gemmMs / profTotal, TrainFlops.matmulFlops(cfg, b, t, true) / (gemmMs / 1e3) / 1e12);
            System.out.printf(
                    "| attention fwd+bwd | %.2f ms (%.0f %%), %.0f TFLOP/s (model count) |%n",
                    attMs, 100 * attMs / profTotal, TrainFlops.attentionFlops(cfg, b, t) / (attMs / 1e3) / 1e12);
            System.out.printf(
                    "| everything else (norms, RoPE, SwiGLU, CE, clip, AdamW, copies) | %.2f ms (%.0f %%) |%n",
                    phase.get(PhaseProfiler.Kind.OTHER), 100 * phase.get(PhaseProfiler.Kind.OTHER) / profTotal);
            System.out.printf(
                    "| device memory: planned / pool in use (size classes) / pool reserved | %.2f / %.2f / %.2f GB |%n",
                    total / 1e9,
                    ops.pool().stats().peakInUseBytes() / 1e9,
                    ops.pool().stats().peakReservedBytes() / 1e9);
            System.out.printf("| wall time of this run | %.1f s |%n", (System.nanoTime() - t0) / 1e9);
            System.out.printf(
                    "PyTorch side of the comparison: python3 deploy/gpu-check/torch_kernel_bench.py --layers %d"
                            + " --batch %d%n",
                    a.layers(), b);
        }
    }

    private static double[] round(double[] ms) {
        double[] o = new double[ms.length];
        for (int i = 0; i < ms.length; i++) {
            o[i] = Math.round(ms[i] * 100) / 100.0;
        }
        return o;
    }
}
