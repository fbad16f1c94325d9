// One rank's shard of a cluster checkpoint: checkpoint_dir/step-NNNNNN/rank-RRRRR.safetensors with
// the rank's parameters ("param.<HF name>", its TP/stage slice), its AdamW moments ("exp_avg.<key>",
// "exp_avg_sq.<key>", all or its ZeRO-1 piece) and metadata (mesh layout, rank, step, AdamW step
// count, LR schedule, seed).
//
// Guarantees: save() returns only when the shard is durable: written to a temp name, fsynced,
// renamed, and the folder fsynced; the checkpoint as a whole counts only once the coordinator has
// journaled CheckpointCommitted (invariant 4). load() is the one place a cluster rank reads committed
// state: the same layout reads its own shard; another dp with the same tp × pp (a rescale or a DP
// shrink) reads the shard of the same (tp, pp) position, which is complete when neither the saved nor
// the new mesh shards the optimizer (replicated DP); any other change is refused, naming both
// layouts (resharding, and ZeRO-1 across dp, come with the sharded checkpoint format).
package dev.shoal.actors.engine;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.hf.HostTensor;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.hf.SafetensorsReader;
import dev.shoal.runtime.hf.SafetensorsWriter;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.LrSchedule;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.tensor.Tensor;
import dev.shoal.runtime.train.JobConfig;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

final class RankCheckpoint {
    private RankCheckpoint() {}

    /** Where a shard went and how big it is. */
    record Written(Path stepDir, Path file, long bytes) {}

    static Path stepDir(Path checkpointDir, long step) {
        return checkpointDir.resolve(String.format("step-%06d", step));
    }

    static String fileName(int rank) {
        return String.format("rank-%05d.safetensors", rank);
    }

    /** Writes this rank's shard of the state after {@code step} steps; durable on return. */
    static Written save(
            Path checkpointDir,
            long step,
            MeshAssignment mesh,
            ParallelTrainer trainer,
            LrSchedule schedule,
            JobConfig job)
            throws IOException {
        Path dir = stepDir(checkpointDir, step);
        Files.createDirectories(dir);
        Path fin = dir.resolve(fileName(mesh.rank()));
        Path tmp = dir.resolve(
                "." + fin.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        trainer.model().params().forEach((k, v) -> tensors.put("param." + k, host(v)));
        AdamW opt = trainer.optimizer().adamw();
        for (Map.Entry<String, AdamW.State> e : opt.state().entrySet()) {
            tensors.put("exp_avg." + e.getKey(), host(e.getValue().expAvg()));
            tensors.put("exp_avg_sq." + e.getKey(), host(e.getValue().expAvgSq()));
        }
        ParallelDims d = mesh.dims();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("layout", layout(d));
        meta.put("rank", Integer.toString(mesh.rank()));
        meta.put("step", Long.toString(step));
        meta.put("adamw_steps", Long.toString(opt.stepCount()));
        meta.put("lr_schedule", schedule.toString());
        meta.put("seed", Long.toString(job.seed()));
        meta.put("zero1", Boolean.toString(mesh.spec().getParallelism().getZero1()));
        try {
            SafetensorsWriter.write(tmp, tensors, SafetensorsDType.F32, meta);
            fsync(tmp, false);
            Files.move(tmp, fin, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            fsync(dir, true);
            fsync(checkpointDir, true);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Written(dir, fin, Files.size(fin));
    }

    /**
     * Loads this rank's state from a committed step folder into the trainer: its own shard on the same
     * layout; across dp (same tp × pp, replicated DP on both sides) the shard of its (tp, pp) position.
     */
    static void load(Path stepDir, int rank, ParallelDims dims, boolean zero1, ParallelTrainer trainer)
            throws IOException {
        int source = sourceRank(stepDir, rank, dims, zero1);
        Path file = stepDir.resolve(fileName(source));
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (Map.Entry<String, Tensor> e : trainer.model().params().entrySet()) {
                read(r, "param." + e.getKey(), e.getValue());
            }
            AdamW opt = trainer.optimizer().adamw();
            for (Map.Entry<String, AdamW.State> e : opt.state().entrySet()) {
                read(r, "exp_avg." + e.getKey(), e.getValue().expAvg());
                read(r, "exp_avg_sq." + e.getKey(), e.getValue().expAvgSq());
            }
            opt.setStepCount(Long.parseLong(r.metadata().getOrDefault("adamw_steps", "0")));
        }
    }

    /**
     * Which saved rank holds this rank's state: itself on the same layout; on another dp with the same
     * tp × pp and replicated DP, the saved rank at the same (tp, pp) position and dp index 0. The
     * layout is read from rank 0's shard metadata.
     */
    static int sourceRank(Path stepDir, int rank, ParallelDims dims, boolean zero1) throws IOException {
        Path first = stepDir.resolve(fileName(0));
        if (!Files.isRegularFile(first)) {
            throw new IOException("checkpoint " + stepDir + " has no shard for rank 0 (" + first + ")");
        }
        String was;
        boolean wasZero1;
        try (SafetensorsReader r = SafetensorsReader.open(first)) {
            was = r.metadata().getOrDefault("layout", "?");
            wasZero1 = Boolean.parseBoolean(r.metadata().getOrDefault("zero1", "false"));
        }
        int source;
        if (was.equals(layout(dims))) {
            source = rank;
        } else {
            ParallelDims saved = parseLayout(was, stepDir);
            if (saved.tp() != dims.tp() || saved.pp() != dims.pp()) {
                throw new IOException("checkpoint " + stepDir + " was written by a " + was + " mesh; this mesh is "
                        + layout(dims) + " (loading at another tp or pp needs the resharding checkpoint format)");
            }
            if (wasZero1 || zero1) {
                throw new IOException("checkpoint " + stepDir + " was written by a " + was + " mesh"
                        + (wasZero1 ? " with ZeRO-1" : "") + "; this mesh is " + layout(dims)
                        + (zero1 ? " with ZeRO-1" : "")
                        + " (loading at another dp works with replicated DP only: the optimizer state is"
                        + " sharded over dp)");
            }
            ParallelDims.Coord c = dims.coord(rank);
            source = saved.rank(c.tp(), c.pp(), 0);
        }
        if (!Files.isRegularFile(stepDir.resolve(fileName(source)))) {
            throw new IOException("checkpoint " + stepDir + " has no shard for rank " + source + " ("
                    + stepDir.resolve(fileName(source)) + ")");
        }
        return source;
    }

    /** "tp T x pp P x dp D" (the layout metadata) as dims. */
    static ParallelDims parseLayout(String layout, Path stepDir) throws IOException {
        String[] w = layout.split(" ");
        if (w.length != 8 || !w[0].equals("tp") || !w[3].equals("pp") || !w[6].equals("dp")) {
            throw new IOException(
                    "checkpoint " + stepDir + ": layout metadata '" + layout + "' is not 'tp T x pp P x dp D'");
        }
        try {
            return ParallelDims.of(Integer.parseInt(w[1]), Integer.parseInt(w[4]), Integer.parseInt(w[7]));
        } catch (IllegalArgumentException e) {
            throw new IOException("checkpoint " + stepDir + ": layout metadata '" + layout + "': " + e.getMessage(), e);
        }
    }

    private static String layout(ParallelDims d) {
        return "tp " + d.tp() + " x pp " + d.pp() + " x dp " + d.dp();
    }

    private static void read(SafetensorsReader r, String name, Tensor dst) throws IOException {
        long n = 1;
        for (long s : r.entry(name).shape()) n *= s;
        if (n != dst.numel()) {
            throw new IOException(r.file() + ": '" + name + "' has " + n + " elements, this rank holds " + dst.numel());
        }
        r.read(name, dst.pointer());
    }

    private static HostTensor host(Tensor t) {
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.dim(i);
        return new HostTensor(shape, t.pointer());
    }

    private static void fsync(Path p, boolean dir) throws IOException {
        try (FileChannel ch = FileChannel.open(p, dir ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }
}
