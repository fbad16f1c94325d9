// Reads a JobConfig from HOCON (Typesafe Config). Everything lives under the root key `train`; relative
// paths are resolved against the config file's folder. Defaults are applied here, in one place.
// Guarantees: unknown keys are refused with the keys allowed at that level (a typo never silently falls
// back to a default); a missing required key, a wrong type or an out-of-range value fails with a
// JobConfigException naming the full key (`train.lr.kind = "cosin": allowed cosine, linear, wsd`).
package dev.shoal.runtime.train;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueType;
import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/** Stateless. */
public final class JobConfigReader {
    private JobConfigReader() {}

    static final List<String> TRAIN_KEYS = List.of(
            "name",
            "model",
            "data",
            "seq_len",
            "global_batch",
            "micro_batch",
            "steps",
            "seed",
            "threads",
            "lr",
            "optimizer",
            "eval_interval",
            "eval_batches",
            "checkpoint_interval",
            "checkpoint_dir",
            "checkpoint_keep_last",
            "checkpoint_keep_every",
            "metrics_file",
            "parallel");
    static final List<String> DATA_KEYS = List.of("dir", "sources", "additional_language", "almr_schedule");
    static final List<String> SOURCE_KEYS = List.of("name", "language", "weight");
    static final List<String> ALMR_KEYS = List.of("step", "almr");
    static final List<String> LR_KEYS = List.of("kind", "peak_lr", "min_lr", "warmup_steps", "decay_steps");
    static final List<String> OPT_KEYS = List.of("beta1", "beta2", "eps", "weight_decay", "grad_clip");
    static final List<String> PARALLEL_KEYS = List.of("tp", "pp", "dp", "zero1");

    /** Reads {@code file}; its base name is the default job name, its folder the base of relative paths. */
    public static JobConfig load(Path file) {
        if (!Files.isRegularFile(file)) throw new JobConfigException("config file " + file + " does not exist");
        String base = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        Path dir = file.toAbsolutePath().getParent();
        try {
            Config c = ConfigFactory.parseFile(
                            file.toFile(),
                            ConfigParseOptions.defaults()
                                    .setSyntax(ConfigSyntax.CONF)
                                    .setAllowMissing(false))
                    .resolve();
            return read(c, dir, base);
        } catch (ConfigException e) {
            throw new JobConfigException(e.getMessage());
        }
    }

    /**
     * The optional {@code train.parallel { tp, pp, dp, zero1 }} block of {@code file} (defaults 1, 1, 1,
     * false): the layout `shoal train` uses unless --tp/--pp/--dp/--zero1 override it.
     */
    public static ParallelSpec loadParallel(Path file) {
        if (!Files.isRegularFile(file)) throw new JobConfigException("config file " + file + " does not exist");
        try {
            Config root = ConfigFactory.parseFile(
                            file.toFile(),
                            ConfigParseOptions.defaults()
                                    .setSyntax(ConfigSyntax.CONF)
                                    .setAllowMissing(false))
                    .resolve();
            if (!root.hasPath("train.parallel")) return ParallelSpec.NONE;
            Config p = object(object(root, "train"), "train.parallel");
            checkKeys(p, "train.parallel.", PARALLEL_KEYS);
            boolean zero1 = false;
            if (p.hasPath("zero1")) {
                if (p.getValue("zero1").valueType() != ConfigValueType.BOOLEAN) {
                    throw new JobConfigException(
                            "train.parallel.zero1 = " + p.getValue("zero1").render() + ": must be true or false");
                }
                zero1 = p.getBoolean("zero1");
            }
            return new ParallelSpec(
                    intKey(p, "train.parallel.", "tp", 1),
                    intKey(p, "train.parallel.", "pp", 1),
                    intKey(p, "train.parallel.", "dp", 1),
                    zero1);
        } catch (ConfigException e) {
            throw new JobConfigException(e.getMessage());
        }
    }

    /** Parses HOCON text; relative paths resolve against {@code baseDir}. */
    public static JobConfig parse(String hocon, Path baseDir, String defaultName) {
        try {
            return read(ConfigFactory.parseString(hocon).resolve(), baseDir.toAbsolutePath(), defaultName);
        } catch (ConfigException e) {
            throw new JobConfigException(e.getMessage());
        }
    }

    private static JobConfig read(Config root, Path baseDir, String defaultName) {
        if (!root.hasPath("train")) throw new JobConfigException("config has no `train { ... }` section");
        checkKeys(root, "", List.of("train"));
        Config t = object(root, "train");
        checkKeys(t, "train.", TRAIN_KEYS);
        int globalBatch = intKey(t, "train.", "global_batch", null);
        long steps = longKey(t, "train.", "steps", null);
        Path ckpt = path(baseDir, string(t, "train.", "checkpoint_dir", null));
        return new JobConfig(
                string(t, "train.", "name", defaultName),
                model(string(t, "train.", "model", null), baseDir),
                data(object(t, "train.data"), baseDir),
                intKey(t, "train.", "seq_len", null),
                globalBatch,
                intKey(t, "train.", "micro_batch", globalBatch),
                steps,
                longKey(t, "train.", "seed", 1L),
                intKey(t, "train.", "threads", Runtime.getRuntime().availableProcessors()),
                lr(t.hasPath("lr") ? object(t, "train.lr") : null),
                optimizer(t.hasPath("optimizer") ? object(t, "train.optimizer") : null),
                longKey(t, "train.", "eval_interval", 0L),
                intKey(t, "train.", "eval_batches", 4),
                longKey(t, "train.", "checkpoint_interval", 0L),
                ckpt,
                t.hasPath("metrics_file")
                        ? path(baseDir, string(t, "train.", "metrics_file", null))
                        : ckpt.resolve("metrics.jsonl"),
                intKey(t, "train.", "checkpoint_keep_last", 0),
                longKey(t, "train.", "checkpoint_keep_every", 0L));
    }

    private static JobConfig.Data data(Config d, Path baseDir) {
        checkKeys(d, "train.data.", DATA_KEYS);
        List<MixtureSpec.Source> sources = new ArrayList<>();
        List<? extends Config> list = objectList(d, "train.data.sources");
        for (int i = 0; i < list.size(); i++) {
            String p = "train.data.sources[" + i + "].";
            Config s = list.get(i);
            checkKeys(s, p, SOURCE_KEYS);
            String name = string(s, p, "name", null);
            double w = doubleKey(s, p, "weight", null);
            JobConfig.require(w > 0 && Double.isFinite(w), p + "weight", w, "must be finite and > 0");
            sources.add(new MixtureSpec.Source(name, string(s, p, "language", null), w));
        }
        AlmrSchedule almr = null;
        if (d.hasPath("almr_schedule")) {
            List<? extends Config> pts = objectList(d, "train.data.almr_schedule");
            if (pts.isEmpty()) throw new JobConfigException("train.data.almr_schedule = []: needs at least one point");
            long[] st = new long[pts.size()];
            long[] ppb = new long[pts.size()];
            for (int i = 0; i < pts.size(); i++) {
                String p = "train.data.almr_schedule[" + i + "].";
                checkKeys(pts.get(i), p, ALMR_KEYS);
                st[i] = longKey(pts.get(i), p, "step", null);
                double a = doubleKey(pts.get(i), p, "almr", null);
                JobConfig.require(a >= 0 && a <= 1, p + "almr", a, "must be in [0, 1]");
                ppb[i] = Math.round(a * AlmrSchedule.Q);
            }
            try {
                almr = new AlmrSchedule(st, ppb);
            } catch (IllegalArgumentException e) {
                throw new JobConfigException("train.data.almr_schedule: " + e.getMessage());
            }
        }
        return new JobConfig.Data(
                path(baseDir, string(d, "train.data.", "dir", null)),
                sources,
                d.hasPath("additional_language") ? string(d, "train.data.", "additional_language", null) : null,
                almr);
    }

    private static JobConfig.Lr lr(Config c) {
        if (c == null) throw new JobConfigException("train.lr is required (at least train.lr.peak_lr)");
        checkKeys(c, "train.lr.", LR_KEYS);
        JobConfig.LrKind kind = JobConfig.LrKind.parse("train.lr.kind", string(c, "train.lr.", "kind", "cosine"));
        double peak = doubleKey(c, "train.lr.", "peak_lr", null);
        return new JobConfig.Lr(
                kind,
                peak,
                doubleKey(c, "train.lr.", "min_lr", peak * 0.1),
                longKey(c, "train.lr.", "warmup_steps", 0L),
                longKey(c, "train.lr.", "decay_steps", 0L));
    }

    private static JobConfig.Optimizer optimizer(Config c) {
        if (c == null) return new JobConfig.Optimizer(0.9, 0.95, 1e-8, 0.1, 1.0);
        checkKeys(c, "train.optimizer.", OPT_KEYS);
        String p = "train.optimizer.";
        return new JobConfig.Optimizer(
                doubleKey(c, p, "beta1", 0.9),
                doubleKey(c, p, "beta2", 0.95),
                doubleKey(c, p, "eps", 1e-8),
                doubleKey(c, p, "weight_decay", 0.1),
                doubleKey(c, p, "grad_clip", 1.0));
    }

    // ---- typed access with full key names in every error ----

    private static void checkKeys(Config c, String prefix, List<String> allowed) {
        Set<String> unknown = new TreeSet<>();
        for (String k : c.root().keySet()) if (!allowed.contains(k)) unknown.add(k);
        if (!unknown.isEmpty()) {
            String k = unknown.iterator().next();
            throw new JobConfigException("unknown key " + prefix + k + " (allowed under "
                    + (prefix.isEmpty() ? "the root" : prefix) + ": " + String.join(", ", allowed) + ")");
        }
    }

    private static Config object(Config c, String fullKey) {
        String k = fullKey.substring(fullKey.lastIndexOf('.') + 1);
        if (!c.hasPath(k)) throw new JobConfigException(fullKey + " is required");
        if (c.getValue(k).valueType() != ConfigValueType.OBJECT) {
            throw new JobConfigException(fullKey + " must be an object { ... }, got "
                    + c.getValue(k).valueType().name().toLowerCase());
        }
        return c.getConfig(k);
    }

    private static List<? extends Config> objectList(Config c, String fullKey) {
        String k = fullKey.substring(fullKey.lastIndexOf('.') + 1);
        if (!c.hasPath(k)) throw new JobConfigException(fullKey + " is required");
        try {
            return c.getConfigList(k);
        } catch (ConfigException.WrongType e) {
            throw new JobConfigException(fullKey + " must be a list of objects [ { ... }, ... ]");
        }
    }

    private static String string(Config c, String prefix, String k, String def) {
        if (!c.hasPath(k)) {
            if (def != null) return def;
            throw new JobConfigException(prefix + k + " is required");
        }
        ConfigValueType t = c.getValue(k).valueType();
        if (t != ConfigValueType.STRING && t != ConfigValueType.NUMBER) {
            throw new JobConfigException(
                    prefix + k + " must be a string, got " + t.name().toLowerCase());
        }
        return c.getString(k);
    }

    private static Number number(Config c, String prefix, String k) {
        try {
            return c.getNumber(k);
        } catch (ConfigException.WrongType e) {
            throw new JobConfigException(prefix + k + " = " + c.getValue(k).render() + ": must be a number");
        }
    }

    private static double doubleKey(Config c, String prefix, String k, Double def) {
        if (!c.hasPath(k)) {
            if (def != null) return def;
            throw new JobConfigException(prefix + k + " is required");
        }
        return number(c, prefix, k).doubleValue();
    }

    private static long longKey(Config c, String prefix, String k, Long def) {
        if (!c.hasPath(k)) {
            if (def != null) return def;
            throw new JobConfigException(prefix + k + " is required");
        }
        Number n = number(c, prefix, k);
        double d = n.doubleValue();
        if (d != Math.rint(d) || Math.abs(d) > 9.0e15) {
            throw new JobConfigException(prefix + k + " = " + c.getValue(k).render() + ": must be a whole number");
        }
        return n.longValue();
    }

    private static int intKey(Config c, String prefix, String k, Integer def) {
        long v = longKey(c, prefix, k, def == null ? null : (long) def);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new JobConfigException(prefix + k + " = " + v + ": too large");
        }
        return (int) v;
    }

    /** A preset name stays as it is; anything else is a directory, resolved against the config's folder. */
    private static String model(String value, Path baseDir) {
        if (LlamaConfig.PRESETS.containsKey(value.toLowerCase(Locale.ROOT))) return value;
        return path(baseDir, value).toString();
    }

    private static Path path(Path baseDir, String p) {
        Path x = Path.of(p);
        return x.isAbsolute() ? x : baseDir.resolve(x).normalize();
    }
}
