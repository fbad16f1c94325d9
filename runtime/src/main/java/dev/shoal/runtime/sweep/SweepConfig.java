// An ALMR × LR sweep as the user writes it in HOCON (`shoal sweep --config sweep.conf`):
//   sweep {
//     job = cpt.conf                 # a `shoal train` config; or a `train { ... }` block in this file
//     almr = [0.05, 0.1, 0.2, 0.4]   # additional-language shares
//     peak_lr = [1e-3, 2e-3, 4e-3]   # peak LRs (min_lr scales with them)
//     steps = [150, 300]             # optional token budgets as steps (default: the job's train.steps)
//     keep_checkpoints = true        # false: delete a finished point's checkpoints
//   }
// Guarantees: unknown keys are refused with the allowed ones; every bad grid value fails with a
// SweepConfigException naming the key and index (`sweep.almr[2] = 1.5: must be in [0, 1]`); the base job
// must name an additional language and have sources of it and of another language; every point's job is
// built (and so validated by JobConfig) before anything runs.
package dev.shoal.runtime.sweep;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.JobConfigException;
import dev.shoal.runtime.train.JobConfigReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * @param name the sweep's name (default: the config file's base name)
 * @param base the job every point starts from
 * @param almrs ALMR values r, distinct, in [0, 1]
 * @param peakLrs peak LR values, distinct, > 0
 * @param steps token budgets as optimizer steps, distinct, ≥ 1
 * @param keepCheckpoints keep a finished point's checkpoints (false: delete them once it is recorded)
 */
public record SweepConfig(
        String name,
        JobConfig base,
        List<Double> almrs,
        List<Double> peakLrs,
        List<Long> steps,
        boolean keepCheckpoints) {

    static final List<String> ROOT_KEYS = List.of("sweep", "train");
    static final List<String> SWEEP_KEYS = List.of("name", "job", "almr", "peak_lr", "steps", "keep_checkpoints");

    public SweepConfig {
        almrs = List.copyOf(almrs);
        peakLrs = List.copyOf(peakLrs);
        steps = List.copyOf(steps);
        distinct("sweep.almr", almrs);
        distinct("sweep.peak_lr", peakLrs);
        distinct("sweep.steps", steps);
        for (int i = 0; i < almrs.size(); i++) {
            double a = almrs.get(i);
            if (!(a >= 0 && a <= 1))
                throw new SweepConfigException("sweep.almr[" + i + "] = " + a + ": must be in [0, 1]");
        }
        for (int i = 0; i < peakLrs.size(); i++) {
            double v = peakLrs.get(i);
            if (!(v > 0 && Double.isFinite(v))) {
                throw new SweepConfigException("sweep.peak_lr[" + i + "] = " + v + ": must be finite and > 0");
            }
        }
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i) < 1)
                throw new SweepConfigException("sweep.steps[" + i + "] = " + steps.get(i) + ": must be >= 1");
        }
        String add = base.data().additionalLanguage();
        if (add == null) {
            throw new SweepConfigException(
                    "sweep.job: train.data.additional_language is required (the ALMR is its share of the data)");
        }
        List<MixtureSpec.Source> src = base.data().sources();
        if (src.stream().noneMatch(s -> s.lang().equals(add))
                || src.stream().allMatch(s -> s.lang().equals(add))) {
            throw new SweepConfigException("sweep.job: train.data.sources must hold the additional language '" + add
                    + "' and at least one other language, got " + src);
        }
    }

    private static void distinct(String key, List<?> values) {
        if (values.isEmpty()) throw new SweepConfigException(key + " = []: needs at least one value");
        Set<Object> seen = new HashSet<>();
        for (int i = 0; i < values.size(); i++) {
            if (!seen.add(values.get(i))) {
                throw new SweepConfigException(key + "[" + i + "] = " + values.get(i) + ": repeats an earlier value");
            }
        }
    }

    /** Every point, steps outermost, then LR, then ALMR (each in ascending order). */
    public List<SweepPoint> points() {
        List<SweepPoint> out = new ArrayList<>();
        for (long s : steps.stream().sorted().toList())
            for (double lr : peakLrs.stream().sorted().toList())
                for (double a : almrs.stream().sorted().toList()) out.add(new SweepPoint(a, lr, s));
        return out;
    }

    /** Reads a sweep file; a relative {@code sweep.job} resolves against the file's folder. */
    public static SweepConfig load(Path file) {
        if (!Files.isRegularFile(file)) throw new SweepConfigException("sweep config " + file + " does not exist");
        String baseName = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        Path dir = file.toAbsolutePath().getParent();
        Config root;
        try {
            root = ConfigFactory.parseFile(
                            file.toFile(),
                            ConfigParseOptions.defaults()
                                    .setSyntax(ConfigSyntax.CONF)
                                    .setAllowMissing(false))
                    .resolve();
        } catch (ConfigException e) {
            throw new SweepConfigException(e.getMessage());
        }
        return read(root, dir, baseName);
    }

    /** Parses HOCON text; relative paths resolve against {@code baseDir}. */
    public static SweepConfig parse(String hocon, Path baseDir, String defaultName) {
        try {
            return read(ConfigFactory.parseString(hocon).resolve(), baseDir.toAbsolutePath(), defaultName);
        } catch (ConfigException e) {
            throw new SweepConfigException(e.getMessage());
        }
    }

    private static SweepConfig read(Config root, Path dir, String defaultName) {
        checkKeys(root, "", ROOT_KEYS);
        if (!root.hasPath("sweep") || root.getValue("sweep").valueType() != ConfigValueType.OBJECT) {
            throw new SweepConfigException("config has no `sweep { ... }` section");
        }
        Config s = root.getConfig("sweep");
        checkKeys(s, "sweep.", SWEEP_KEYS);
        String name = s.hasPath("name") ? s.getValue("name").unwrapped().toString() : defaultName;
        JobConfig base;
        try {
            if (s.hasPath("job") && root.hasPath("train")) {
                throw new SweepConfigException(
                        "sweep.job and a train { } block are both given; keep one (the base job)");
            } else if (s.hasPath("job")) {
                if (s.getValue("job").valueType() != ConfigValueType.STRING) {
                    throw new SweepConfigException("sweep.job must be a path to a train config (a string)");
                }
                Path p = Path.of(s.getString("job"));
                Path job = p.isAbsolute() ? p : dir.resolve(p).normalize();
                if (!Files.isRegularFile(job)) {
                    throw new SweepConfigException("sweep.job = " + s.getString("job") + ": no such file " + job);
                }
                base = JobConfigReader.load(job);
            } else if (root.hasPath("train")) {
                // The points set their own checkpoint folders; an inline job need not name one.
                Config train = root.getConfig("train")
                        .withFallback(ConfigFactory.parseString("checkpoint_dir = unused-by-sweeps"));
                String text = "train = "
                        + train.root().render(ConfigRenderOptions.concise().setJson(true));
                base = JobConfigReader.parse(text, dir, name);
            } else {
                throw new SweepConfigException("sweep.job is required (a train config path), or a train { } block");
            }
        } catch (JobConfigException e) {
            throw new SweepConfigException("sweep.job: " + e.getMessage());
        }
        List<Double> almr = numbers(s, "almr");
        List<Double> lr = numbers(s, "peak_lr");
        List<Long> steps = new ArrayList<>();
        if (s.hasPath("steps")) {
            List<Double> st = numbers(s, "steps");
            for (int i = 0; i < st.size(); i++) {
                double v = st.get(i);
                if (v != Math.rint(v) || v < 1 || v > 9e15) {
                    throw new SweepConfigException("sweep.steps[" + i + "] = " + v + ": must be a whole number >= 1");
                }
                steps.add((long) v);
            }
        } else {
            steps.add(base.steps());
        }
        boolean keep = true;
        if (s.hasPath("keep_checkpoints")) {
            if (s.getValue("keep_checkpoints").valueType() != ConfigValueType.BOOLEAN) {
                throw new SweepConfigException("sweep.keep_checkpoints = "
                        + s.getValue("keep_checkpoints").render() + ": must be true or false");
            }
            keep = s.getBoolean("keep_checkpoints");
        }
        SweepConfig c = new SweepConfig(name, base, almr, lr, steps, keep);
        for (SweepPoint p : c.points()) p.job(base, dir.resolve("check")); // validate every point's job now
        return c;
    }

    private static List<Double> numbers(Config s, String k) {
        String key = "sweep." + k;
        if (!s.hasPath(k)) throw new SweepConfigException(key + " is required (a list of numbers)");
        ConfigValue v = s.getValue(k);
        List<ConfigValue> items;
        if (v.valueType() == ConfigValueType.LIST) {
            items = new ArrayList<>((ConfigList) v);
        } else if (v.valueType() == ConfigValueType.NUMBER) {
            items = List.of(v);
        } else {
            throw new SweepConfigException(key + " = " + v.render() + ": must be a list of numbers");
        }
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            ConfigValue x = items.get(i);
            if (x.valueType() != ConfigValueType.NUMBER) {
                throw new SweepConfigException(key + "[" + i + "] = " + x.render() + ": must be a number");
            }
            out.add(((Number) x.unwrapped()).doubleValue());
        }
        return out;
    }

    private static void checkKeys(Config c, String prefix, List<String> allowed) {
        Set<String> unknown = new TreeSet<>();
        for (String k : c.root().keySet()) if (!allowed.contains(k)) unknown.add(k);
        if (!unknown.isEmpty()) {
            throw new SweepConfigException(
                    "unknown key " + prefix + unknown.iterator().next() + " (allowed under "
                            + (prefix.isEmpty() ? "the root" : prefix) + ": " + String.join(", ", allowed) + ")");
        }
    }
}
