// Single-process training checkpoints: checkpoint_dir/step-NNNNNN/ holding
//   model.safetensors + config.json   the weights as a Hugging Face directory (fp32, via HfCheckpoint.export),
//                                     so a checkpoint is also a model another job can start from;
//   optimizer.safetensors             AdamW moments, "exp_avg.<param>" and "exp_avg_sq.<param>" (fp32);
//   trainer_state.json                step (= the data cursor), AdamW step count, LR-schedule state, labels
//                                     consumed per source, the job's identity (data spec, model), RNG state.
// Guarantees (design invariant 4, single process): a step folder appears only complete. Everything is
// written into a hidden temp folder, every file and the folder are fsynced, then the folder is renamed
// atomically and the parent fsynced. latest() only ever returns folders named step-NNNNNN that hold a
// trainer_state.json; left-over temp folders are ignored (and removed by clean()). prune() applies the
// job's retention (the newest keep_last plus every keep_every-th; never the newest): a folder is renamed
// to .deleting-step-NNNNNN before it is deleted, so a crash mid-delete never leaves a half folder that
// looks complete.
package dev.shoal.runtime.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shoal.runtime.checkpoint.Retention;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfDirectory;
import dev.shoal.runtime.hf.HostTensor;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.hf.SafetensorsReader;
import dev.shoal.runtime.hf.SafetensorsWriter;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Stateless. */
public final class Checkpoints {
    private Checkpoints() {}

    public static final String STATE_FILE = "trainer_state.json";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{6,})");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * What a checkpoint records besides tensors.
     *
     * @param step optimizer steps done; the next step to run (the data cursor, invariant 1)
     * @param adamwSteps AdamW's own step count (bias correction)
     * @param lrSchedule the schedule in force, as text
     * @param nextLr the learning rate of step {@code step}
     * @param labelTokens label tokens consumed so far, per source
     * @param identity what must not change on resume (data spec, tokenizer, model shape), key → value
     * @param rng RNG state: training draws no random numbers (no dropout; data is a pure function of seed and
     *     step), so this names the seed the data and the initial weights came from
     */
    public record State(
            long step,
            long adamwSteps,
            String lrSchedule,
            double nextLr,
            Map<String, Long> labelTokens,
            Map<String, String> identity,
            String rng) {}

    /** checkpoint_dir/step-NNNNNN for a step. */
    public static Path stepDir(Path checkpointDir, long step) {
        return checkpointDir.resolve(String.format("step-%06d", step));
    }

    /** Writes a complete checkpoint atomically and returns its folder. */
    public static Path save(Path checkpointDir, LlamaModel model, AdamW opt, State state) throws IOException {
        return save(checkpointDir, model.config(), model.params(), opt.state(), opt.stepCount(), state);
    }

    /**
     * As above from full HF-named tensors: params (every parameter of config) and their AdamW moments by the
     * same names (e.g. gathered from the shards of a parallel run).
     */
    public static Path save(
            Path checkpointDir,
            LlamaConfig config,
            Map<String, Tensor> params,
            Map<String, AdamW.State> moments,
            long adamwSteps,
            State state)
            throws IOException {
        Files.createDirectories(checkpointDir);
        Path fin = stepDir(checkpointDir, state.step());
        Path tmp = checkpointDir.resolve(
                "." + fin.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        deleteTree(tmp);
        Files.createDirectories(tmp);
        try {
            // 1. Weights as an HF directory, fp32.
            HfDirectory.write(tmp, HfCheckpoint.hostView(params), SafetensorsDType.F32, 0);
            HfConfig.write(config, SafetensorsDType.F32, tmp);
            // 2. AdamW moments under their parameter names.
            Map<String, HostTensor> m = new LinkedHashMap<>();
            for (Map.Entry<String, AdamW.State> e : moments.entrySet()) {
                m.put("exp_avg." + e.getKey(), host(e.getValue().expAvg()));
                m.put("exp_avg_sq." + e.getKey(), host(e.getValue().expAvgSq()));
            }
            SafetensorsWriter.write(
                    tmp.resolve(OPTIMIZER_FILE),
                    m,
                    SafetensorsDType.F32,
                    Map.of("adamw_steps", Long.toString(adamwSteps)));
            // 3. The state, last.
            JSON.writeValue(tmp.resolve(STATE_FILE).toFile(), state);
            // 4. fsync every file and the folder, rename, fsync the parent.
            try (Stream<Path> files = Files.list(tmp)) {
                for (Path f : files.toList()) fsync(f, false);
            }
            fsync(tmp, true);
            if (Files.exists(fin)) deleteTree(fin); // a re-run of the same step replaces it whole
            Files.move(tmp, fin, StandardCopyOption.ATOMIC_MOVE);
            fsync(checkpointDir, true);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
        return fin;
    }

    /** The complete checkpoint with the highest step in checkpointDir, if any. */
    public static Optional<Path> latest(Path checkpointDir) throws IOException {
        if (!Files.isDirectory(checkpointDir)) return Optional.empty();
        try (Stream<Path> s = Files.list(checkpointDir)) {
            return s.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(STATE_FILE)))
                    .max(Comparator.comparingLong(Checkpoints::stepOf));
        }
    }

    /** The step a step-NNNNNN folder is named for. */
    public static long stepOf(Path stepDir) {
        Matcher m = STEP_DIR.matcher(stepDir.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException(stepDir + " is not a step-NNNNNN folder");
        return Long.parseLong(m.group(1));
    }

    /** Removes left-over temp folders of interrupted saves. */
    public static void clean(Path checkpointDir) throws IOException {
        if (!Files.isDirectory(checkpointDir)) return;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(checkpointDir, ".step-*.tmp-*")) {
            for (Path p : ds) deleteTree(p);
        }
    }

    /**
     * Deletes the complete checkpoints of checkpointDir that {@code keep} does not keep (never the newest),
     * and left-over .deleting folders; returns the step folders deleted.
     */
    public static List<Path> prune(Path checkpointDir, Retention keep) throws IOException {
        if (!Files.isDirectory(checkpointDir)) return List.of();
        List<Long> steps = new ArrayList<>();
        try (Stream<Path> s = Files.list(checkpointDir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (STEP_DIR.matcher(n).matches() && Files.isRegularFile(p.resolve(STATE_FILE))) {
                    steps.add(stepOf(p));
                } else if (n.startsWith(".deleting-step-")) {
                    deleteTree(p);
                }
            }
        }
        long newest = steps.stream().mapToLong(Long::longValue).max().orElse(-1);
        List<Path> deleted = new ArrayList<>();
        for (long step : keep.toDelete(steps)) {
            if (step == newest) continue;
            Path dir = stepDir(checkpointDir, step);
            Path gone = checkpointDir.resolve(".deleting-" + dir.getFileName());
            Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(gone);
            deleted.add(dir);
        }
        if (!deleted.isEmpty()) fsync(checkpointDir, true);
        return deleted;
    }

    /** Reads the state of a checkpoint folder. */
    public static State readState(Path stepDir) throws IOException {
        return JSON.readValue(stepDir.resolve(STATE_FILE).toFile(), State.class);
    }

    /** Loads weights and AdamW moments into an existing model and optimizer; returns the state. */
    public static State load(Path stepDir, LlamaModel model, AdamW opt) throws IOException {
        State st = readState(stepDir);
        HfCheckpoint.loadInto(stepDir, model);
        try (SafetensorsReader r = SafetensorsReader.open(stepDir.resolve(OPTIMIZER_FILE))) {
            for (Map.Entry<String, AdamW.State> e : opt.state().entrySet()) {
                readInto(r, "exp_avg." + e.getKey(), e.getValue().expAvg());
                readInto(r, "exp_avg_sq." + e.getKey(), e.getValue().expAvgSq());
            }
        }
        opt.setStepCount(st.adamwSteps());
        return st;
    }

    private static void readInto(SafetensorsReader r, String name, Tensor dst) throws IOException {
        long[] shape = r.entry(name).shape();
        long n = 1;
        for (long d : shape) n *= d;
        if (n != dst.numel()) {
            throw new IOException(r.file() + ": '" + name + "' has " + n + " elements, expected " + dst.numel());
        }
        r.read(name, dst.pointer());
    }

    private static HostTensor host(Tensor t) {
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.dim(i);
        return new HostTensor(shape, t.pointer());
    }

    static void fsync(Path p, boolean dir) throws IOException {
        try (FileChannel ch = FileChannel.open(p, dir ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(x);
        }
    }
}
