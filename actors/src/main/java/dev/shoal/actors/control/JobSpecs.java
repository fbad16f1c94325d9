// The HOCON job file → the JobSpec that `shoal submit` sends. The file is the one `shoal train` reads
// (train { ... }, runtime/train/JobConfigReader, every key and default documented in docs/training.md)
// plus an optional `train.parallelism { tp, pp, dp, zero1, recompute, max-dp }` for the cluster and
// `train.peer-copy-every = K` (in-memory peer copies of every rank's shard every K steps; 0: off) and
// `train.cpu-engine = llama | backend` (the model CPU ranks train; default llama).
//
// Guarantees: every mistake in the file fails with a JobConfigException that names the file and the
// full key (`job.conf: train.parallelism.dp = 0: must be >= 1`); relative paths (data.dir,
// checkpoint_dir, an HF model folder) become absolute, resolved against the file's folder, because the
// nodes that train are not where the CLI ran; source weights are normalised to sum to 1.
// Keys that only matter to one process (threads, metrics_file) have no JobSpec field.
package dev.shoal.actors.control;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueType;
import dev.shoal.proto.v1.AlmrPoint;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Optimizer;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.JobConfigException;
import dev.shoal.runtime.train.JobConfigReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

public final class JobSpecs {

    /** Keys allowed under train.parallelism. */
    public static final List<String> PARALLELISM_KEYS = List.of("tp", "pp", "dp", "zero1", "recompute", "max-dp");

    private JobSpecs() {}

    /** Reads a job file into a JobSpec; every error names {@code file} and the key. */
    public static JobSpec read(Path file) {
        if (!Files.isRegularFile(file)) throw new JobConfigException(file + ": no such file");
        Config root;
        try {
            root = ConfigFactory.parseFile(
                            file.toFile(),
                            ConfigParseOptions.defaults()
                                    .setSyntax(ConfigSyntax.CONF)
                                    .setAllowMissing(false))
                    .resolve();
        } catch (ConfigException e) {
            // Typesafe Config's messages already start with the file and line.
            throw new JobConfigException(e.getMessage());
        }
        String name = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        try {
            Parallelism par = parallelism(root);
            int peerCopyEvery = peerCopyEvery(root);
            String cpuEngine = cpuEngine(root);
            Config rest = root.hasPath("train.parallelism") ? root.withoutPath("train.parallelism") : root;
            if (rest.hasPath(PEER_COPY_EVERY)) rest = rest.withoutPath(PEER_COPY_EVERY);
            if (rest.hasPath(CPU_ENGINE)) rest = rest.withoutPath(CPU_ENGINE);
            JobConfig job = JobConfigReader.parse(
                    rest.root().render(ConfigRenderOptions.concise()),
                    file.toAbsolutePath().getParent(),
                    name);
            return toSpec(job, par).toBuilder()
                    .setPeerCopyEvery(peerCopyEvery)
                    .setCpuEngine(cpuEngine)
                    .build();
        } catch (JobConfigException e) {
            throw new JobConfigException(file + ": " + e.getMessage());
        }
    }

    /** The JobSpec of a single-process job config run under {@code par}. */
    public static JobSpec toSpec(JobConfig job, Parallelism par) {
        JobConfig.Data data = job.data();
        double total =
                data.sources().stream().mapToDouble(MixtureSpec.Source::weight).sum();
        JobSpec.Builder b = JobSpec.newBuilder()
                .setName(job.name())
                .setModel(job.model())
                .setSeqLen(job.seqLen())
                .setGlobalBatch(job.globalBatch())
                .setMicroBatch(job.microBatch())
                .setSteps(job.steps())
                .setSeed(job.seed())
                .setEvalInterval(job.evalInterval())
                .setEvalBatches(job.evalBatches())
                .setCheckpointInterval(job.checkpointInterval())
                .setCheckpointDir(job.checkpointDir().toAbsolutePath().toString())
                .setCheckpointKeepLast(job.checkpointKeepLast())
                .setCheckpointKeepEvery(job.checkpointKeepEvery())
                .setParallelism(par);
        for (MixtureSpec.Source s : data.sources()) {
            b.addSources(DataSource.newBuilder()
                    .setName(s.name())
                    .setLanguage(s.lang())
                    .setPath(data.dir().toAbsolutePath().toString())
                    .setWeight(s.weight() / total)
                    .setAdditional(s.lang().equals(data.additionalLanguage())));
        }
        AlmrSchedule almr = data.almrSchedule();
        if (almr != null) {
            for (int i = 0; i < almr.steps().length; i++) {
                b.addAlmrSchedule(AlmrPoint.newBuilder()
                        .setStep(almr.steps()[i])
                        .setAlmr((double) almr.ppb()[i] / AlmrSchedule.Q));
            }
        }
        JobConfig.Lr lr = job.lr();
        b.setLr(LrSchedule.newBuilder()
                .setKind(
                        switch (lr.kind()) {
                            case COSINE -> LrSchedule.Kind.COSINE;
                            case LINEAR -> LrSchedule.Kind.LINEAR;
                            case WSD -> LrSchedule.Kind.WSD;
                        })
                .setPeakLr(lr.peakLr())
                .setMinLr(lr.minLr())
                .setWarmupSteps(lr.warmupSteps())
                .setDecaySteps(lr.decaySteps()));
        JobConfig.Optimizer o = job.optimizer();
        b.setOptimizer(Optimizer.newBuilder()
                .setBeta1(o.beta1())
                .setBeta2(o.beta2())
                .setEps(o.eps())
                .setWeightDecay(o.weightDecay())
                .setGradClip(o.gradClip()));
        return b.build();
    }

    /** The cluster-only key of the in-memory peer copies (JobSpec.peer_copy_every). */
    public static final String PEER_COPY_EVERY = "train.peer-copy-every";

    /** train.peer-copy-every: a whole number >= 0 (0, the default: no peer copies). */
    static int peerCopyEvery(Config root) {
        if (!root.hasPath(PEER_COPY_EVERY)) return 0;
        String v = root.getValue(PEER_COPY_EVERY).render();
        try {
            int n = root.getInt(PEER_COPY_EVERY);
            if (n >= 0 && v.equals(Integer.toString(n))) return n;
        } catch (ConfigException.WrongType e) {
            // fall through to the message
        }
        throw new JobConfigException(PEER_COPY_EVERY + " = " + v + ": must be a whole number >= 0 (steps between"
                + " in-memory peer copies; 0: off)");
    }

    /** The cluster-only key of the model CPU ranks train (JobSpec.cpu_engine). */
    public static final String CPU_ENGINE = "train.cpu-engine";

    /** The values of train.cpu-engine: the CPU engine's LlamaModel, or BackendLlama on the CPU backend. */
    public static final List<String> CPU_ENGINES = List.of("llama", "backend");

    /** train.cpu-engine: llama (the default, also when absent) or backend. */
    static String cpuEngine(Config root) {
        if (!root.hasPath(CPU_ENGINE)) return "llama";
        String v = root.getValue(CPU_ENGINE).render();
        if (root.getValue(CPU_ENGINE).valueType() == ConfigValueType.STRING
                && CPU_ENGINES.contains(root.getString(CPU_ENGINE))) {
            return root.getString(CPU_ENGINE);
        }
        throw new JobConfigException(CPU_ENGINE + " = " + v + ": must be llama (the CPU engine's LlamaModel, any"
                + " layout) or backend (BackendLlama on the CPU tensor backend, tp 1 × pp 1)");
    }

    /** train.parallelism, each key checked; absent: tp 1 × pp 1 × dp 1. */
    static Parallelism parallelism(Config root) {
        String p = "train.parallelism.";
        if (!root.hasPath("train.parallelism"))
            return Parallelism.newBuilder().setTp(1).setPp(1).setDp(1).build();
        if (root.getValue("train.parallelism").valueType() != ConfigValueType.OBJECT) {
            throw new JobConfigException(
                    "train.parallelism must be an object { tp, pp, dp, zero1, recompute, max-dp }");
        }
        Config c = root.getConfig("train.parallelism");
        Set<String> unknown = new TreeSet<>(c.root().keySet());
        unknown.removeAll(PARALLELISM_KEYS);
        if (!unknown.isEmpty()) {
            throw new JobConfigException("unknown key " + p + unknown.iterator().next() + " (allowed under " + p + ": "
                    + String.join(", ", PARALLELISM_KEYS) + ")");
        }
        return Parallelism.newBuilder()
                .setTp(size(c, p, "tp"))
                .setPp(size(c, p, "pp"))
                .setDp(size(c, p, "dp"))
                .setZero1(flag(c, p, "zero1"))
                .setRecompute(flag(c, p, "recompute"))
                .setMaxDp(c.hasPath("max-dp") ? size(c, p, "max-dp") : 0)
                .build();
    }

    private static int size(Config c, String prefix, String k) {
        if (!c.hasPath(k)) return 1;
        String v = c.getValue(k).render();
        int n;
        try {
            n = c.getInt(k);
        } catch (ConfigException.WrongType e) {
            throw new JobConfigException(prefix + k + " = " + v + ": must be a whole number >= 1");
        }
        if (n < 1 || !v.equals(Integer.toString(n))) {
            throw new JobConfigException(prefix + k + " = " + v + ": must be a whole number >= 1");
        }
        return n;
    }

    private static boolean flag(Config c, String prefix, String k) {
        if (!c.hasPath(k)) return false;
        try {
            return c.getBoolean(k);
        } catch (ConfigException.WrongType e) {
            throw new JobConfigException(prefix + k + " = " + c.getValue(k).render() + ": must be true or false");
        }
    }
}
