// Checks a submitted JobSpec against itself and against the ranks the coordinator has registered.
//
// Guarantees: every problem found is reported (not just the first), each naming the JobSpec field
// (with its index in a list, e.g. `sources[1].weight: -0.2 must be in [0, 1]`) and the value;
// specProblems needs nothing but the spec (the control plane checks it before forwarding); a DP size that does not
// divide the global batch comes with the sizes that do
// (design invariant 2: micro_batch × grad_accum × dp = global_batch).
package dev.shoal.actors.coordinator;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.AlmrPoint;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Optimizer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

public final class JobSpecCheck {

    private JobSpecCheck() {}

    /** All problems of {@code spec} when {@code registeredRanks} ranks are available; empty when fine. */
    public static List<String> problems(JobSpec spec, int registeredRanks) {
        List<String> p = specProblems(spec);
        int tp = spec.getParallelism().getTp();
        int pp = spec.getParallelism().getPp();
        int dp = spec.getParallelism().getDp();
        if (tp < 1 || pp < 1 || dp < 1) return p;
        if (registeredRanks < 1) {
            p.add("no ranks are registered yet; start the nodes before submitting");
        } else if ((long) tp * pp * dp > registeredRanks) {
            // Fewer ranks than registered is fine: the others stay free (a later rescale or auto-grow uses them).
            try {
                new ParallelDims(tp, pp, dp, registeredRanks);
            } catch (IllegalArgumentException e) {
                String fit = registeredRanks >= tp * pp
                        ? "; dp " + registeredRanks / (tp * pp) + " would fit"
                        : "; no dp fits: one replica needs tp × pp = " + tp * pp + " ranks";
                p.add("parallelism: " + e.getMessage() + " (the registered ranks)" + fit);
            }
        }
        return p;
    }

    /**
     * As {@link #problems}, for a job slot of a cluster that runs several jobs: the job takes
     * tp × pp × dp of the registered ranks, so its world must not exceed them (it need not equal them).
     */
    public static List<String> problemsOnShared(JobSpec spec, int registeredRanks) {
        var par = spec.getParallelism();
        long world = (long) par.getTp() * par.getPp() * par.getDp();
        if (par.getTp() < 1 || par.getPp() < 1 || par.getDp() < 1 || registeredRanks < 1) {
            return problems(spec, registeredRanks);
        }
        if (world > registeredRanks) {
            List<String> p = specProblems(spec);
            p.add("parallelism: tp × pp × dp = " + world + " > the " + registeredRanks + " registered ranks");
            return p;
        }
        return problems(spec, (int) world);
    }

    /** All problems of {@code spec} on its own (no cluster needed); empty when fine. */
    public static List<String> specProblems(JobSpec spec) {
        List<String> p = new ArrayList<>();
        if (spec.getName().isBlank()) p.add("name is empty");
        if (spec.getModel().isBlank()) p.add("model is empty (a preset such as llama3-8b, or an HF directory)");
        positive(p, "seq_len", spec.getSeqLen());
        positive(p, "global_batch", spec.getGlobalBatch());
        positive(p, "micro_batch", spec.getMicroBatch());
        positive(p, "steps", spec.getSteps());
        if (spec.getEvalInterval() < 0) p.add("eval_interval " + spec.getEvalInterval() + " < 0");
        if (spec.getCheckpointInterval() < 0) p.add("checkpoint_interval " + spec.getCheckpointInterval() + " < 0");
        if (spec.getPeerCopyEvery() < 0) {
            p.add("peer_copy_every " + spec.getPeerCopyEvery() + " < 0 (steps between in-memory peer copies; 0: off)");
        }
        if (spec.getCheckpointInterval() > 0 && spec.getCheckpointDir().isBlank()) {
            p.add("checkpoint_dir is empty but checkpoint_interval is " + spec.getCheckpointInterval());
        }
        if (spec.getCheckpointKeepLast() < 0) {
            p.add("checkpoint_keep_last " + spec.getCheckpointKeepLast() + " < 0 (0: keep every checkpoint)");
        }
        if (spec.getCheckpointKeepEvery() < 0) {
            p.add("checkpoint_keep_every " + spec.getCheckpointKeepEvery() + " < 0 (0: none)");
        } else if (spec.getCheckpointKeepEvery() > 0 && spec.getCheckpointKeepLast() == 0) {
            p.add("checkpoint_keep_every " + spec.getCheckpointKeepEvery()
                    + " needs checkpoint_keep_last >= 1 (checkpoint_keep_last 0 keeps every checkpoint)");
        }
        p.addAll(cpuEngineProblems(
                spec, spec.getParallelism().getTp(), spec.getParallelism().getPp()));
        sources(p, spec.getSourcesList());
        almr(p, spec);
        if (spec.hasLr()) lr(p, spec.getLr(), spec.getSteps());
        if (spec.hasOptimizer()) optimizer(p, spec.getOptimizer());

        int tp = spec.getParallelism().getTp();
        int pp = spec.getParallelism().getPp();
        int dp = spec.getParallelism().getDp();
        positive(p, "parallelism.tp", tp);
        positive(p, "parallelism.pp", pp);
        positive(p, "parallelism.dp", dp);
        if (tp < 1 || pp < 1 || dp < 1) return p;
        int maxDp = spec.getParallelism().getMaxDp();
        if (maxDp != 0 && maxDp < dp) {
            p.add("parallelism.max_dp " + maxDp + " must be 0 (no bound) or >= parallelism.dp " + dp);
        }

        int micro = spec.getMicroBatch();
        int global = spec.getGlobalBatch();
        if (micro > 0 && global > 0 && global % ((long) micro * dp) != 0) {
            p.add("global_batch " + global + " is not divisible by micro_batch " + micro + " × parallelism.dp " + dp
                    + " = " + (long) micro * dp + "; "
                    + (global % micro == 0
                            ? "dp sizes that work: " + dpSizes(global, micro)
                            : "no dp works: global_batch is not a multiple of micro_batch"));
        }
        return p;
    }

    /** DP sizes d with global % (micro · d) == 0, ascending. */
    public static List<Integer> dpSizes(int global, int micro) {
        List<Integer> sizes = new ArrayList<>();
        if (micro < 1 || global < 1 || global % micro != 0) return sizes;
        int maxDp = global / micro;
        for (int d = 1; d <= maxDp; d++) {
            if (maxDp % d == 0) sizes.add(d);
        }
        return sizes;
    }

    private static void sources(List<String> p, List<DataSource> sources) {
        if (sources.isEmpty()) return;
        Set<String> names = new HashSet<>();
        double sum = 0;
        for (int i = 0; i < sources.size(); i++) {
            DataSource s = sources.get(i);
            String at = "sources[" + i + "]";
            if (s.getName().isBlank()) p.add(at + ".name is empty");
            else if (!names.add(s.getName())) p.add(at + ".name \"" + s.getName() + "\" is used twice");
            if (s.getLanguage().isBlank()) p.add(at + ".language is empty");
            if (s.getPath().isBlank()) p.add(at + ".path is empty");
            if (!(s.getWeight() >= 0 && s.getWeight() <= 1))
                p.add(at + ".weight: " + s.getWeight() + " must be in [0, 1]");
            sum += s.getWeight();
        }
        if (Math.abs(sum - 1.0) > 1e-9) p.add("sources weights sum to " + sum + ", not 1");
    }

    private static void almr(List<String> p, JobSpec spec) {
        List<AlmrPoint> points = spec.getAlmrScheduleList();
        if (points.isEmpty()) return;
        if (spec.getSourcesList().stream().noneMatch(s -> s.getAdditional())) {
            p.add("almr_schedule is set but no source is marked additional");
        }
        for (int i = 0; i < points.size(); i++) {
            AlmrPoint a = points.get(i);
            String at = "almr_schedule[" + i + "]";
            if (!(a.getAlmr() >= 0 && a.getAlmr() <= 1)) p.add(at + ".almr: " + a.getAlmr() + " must be in [0, 1]");
            if (a.getStep() < 0) p.add(at + ".step: " + a.getStep() + " must be >= 0");
            if (i > 0 && a.getStep() <= points.get(i - 1).getStep()) {
                p.add(at + ".step: " + a.getStep() + " must be after almr_schedule[" + (i - 1) + "].step "
                        + points.get(i - 1).getStep());
            }
        }
    }

    private static void lr(List<String> p, LrSchedule lr, long steps) {
        if (lr.getKind() == LrSchedule.Kind.UNRECOGNIZED) p.add("lr.kind: unknown value " + lr.getKindValue());
        double peak = lr.getPeakLr();
        if (!(peak > 0 && Double.isFinite(peak))) p.add("lr.peak_lr: " + peak + " must be finite and > 0");
        if (!(lr.getMinLr() >= 0 && lr.getMinLr() <= peak)) {
            p.add("lr.min_lr: " + lr.getMinLr() + " must be in [0, lr.peak_lr " + peak + "]");
        }
        if (lr.getWarmupSteps() < 0) p.add("lr.warmup_steps: " + lr.getWarmupSteps() + " must be >= 0");
        if (lr.getDecaySteps() < 0) p.add("lr.decay_steps: " + lr.getDecaySteps() + " must be >= 0");
        if (lr.getKind() == LrSchedule.Kind.WSD) {
            if (lr.getDecaySteps() < 1) p.add("lr.decay_steps: " + lr.getDecaySteps() + " must be >= 1 for WSD");
            if (steps > 0 && lr.getWarmupSteps() + lr.getDecaySteps() > steps) {
                p.add("lr.decay_steps: " + lr.getDecaySteps() + " + lr.warmup_steps " + lr.getWarmupSteps()
                        + " must fit in steps " + steps);
            }
        } else if (steps > 0 && lr.getWarmupSteps() > steps) {
            p.add("lr.warmup_steps: " + lr.getWarmupSteps() + " must not exceed steps " + steps);
        }
    }

    private static void optimizer(List<String> p, Optimizer o) {
        if (!(o.getBeta1() >= 0 && o.getBeta1() < 1)) p.add("optimizer.beta1: " + o.getBeta1() + " must be in [0, 1)");
        if (!(o.getBeta2() >= 0 && o.getBeta2() < 1)) p.add("optimizer.beta2: " + o.getBeta2() + " must be in [0, 1)");
        if (!(o.getEps() > 0)) p.add("optimizer.eps: " + o.getEps() + " must be > 0");
        if (!(o.getWeightDecay() >= 0)) p.add("optimizer.weight_decay: " + o.getWeightDecay() + " must be >= 0");
        if (!(o.getGradClip() >= 0 && Double.isFinite(o.getGradClip()))) {
            p.add("optimizer.grad_clip: " + o.getGradClip() + " must be >= 0 (0: no clipping)");
        }
    }

    /**
     * What cpu_engine cannot run at tp × pp (the spec's, or a mesh's), naming the value; empty when it can:
     * llama (or unset) runs every layout, backend (BackendLlama on the CPU tensor backend) tp 1 × pp 1
     * without in-memory peer copies. Checked at submission and again by the CPU ranks at rendezvous.
     */
    public static List<String> cpuEngineProblems(JobSpec spec, int tp, int pp) {
        String engine = spec.getCpuEngine();
        if (engine.isEmpty() || engine.equals("llama")) return List.of();
        if (!engine.equals("backend")) {
            return List.of("cpu_engine '" + engine + "' is not a CPU engine (llama: LlamaModel, any layout; backend:"
                    + " BackendLlama on the CPU tensor backend, tp 1 × pp 1)");
        }
        List<String> p = new ArrayList<>();
        if (tp > 1 || pp > 1) {
            p.add("cpu_engine backend runs data parallelism only; parallelism is tp " + tp + " × pp " + pp
                    + " (use tp 1 × pp 1, or cpu_engine llama)");
        }
        if (spec.getPeerCopyEvery() > 0) {
            p.add("cpu_engine backend resumes from durable checkpoints only; peer_copy_every is "
                    + spec.getPeerCopyEvery() + " (set it to 0, or use cpu_engine llama)");
        }
        return p;
    }

    private static void positive(List<String> p, String field, long value) {
        if (value < 1) p.add(field + " must be >= 1, got " + value);
    }
}
