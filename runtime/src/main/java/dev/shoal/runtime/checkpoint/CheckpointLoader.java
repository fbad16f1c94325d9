// Loads a committed checkpoint into one rank of any (tp, pp, dp) mesh, ZeRO-1 or not, whatever mesh
// saved it: each of the rank's targets (RankState.toLoad: its parameters and the moments its
// optimizer keeps, as regions of global tensors) is filled from the saved tensor shards that overlap
// it, read from memory-mapped shard files.
// Guarantees: the folder is verified first (manifest, files, sizes, coverage), and every CRC block a
// rank reads from is checked before its bytes are used; the model shape must match the trainer's
// (the name may differ); every target element is filled exactly once, else the load fails naming the
// tensor; values are copied bit for bit; the bytes read are the rank's own (LoadStats). The same fill
// runs over shards held in memory (PeerCheckpoint: the in-memory peer copies), and a flat rank
// (FlatRank: a GPU rank's host copies) loads through the same pieces as a CPU rank of tp 1 × pp 1.
package dev.shoal.runtime.checkpoint;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class CheckpointLoader {
    private CheckpointLoader() {}

    /**
     * What a load restored besides tensors.
     *
     * @param state the caller's state as saved (step = the next step to run)
     * @param adamwSteps AdamW's step count, already set on the trainer's optimizer
     * @param savedMesh the mesh that saved the checkpoint
     * @param savedZero1 whether it used ZeRO-1
     * @param bytesCopied bytes of tensor data this rank read into its model and optimizer
     * @param bytesVerified bytes this rank CRC-checked (its reads, rounded out to whole CRC blocks)
     */
    public record Restored(
            TrainingState state,
            long adamwSteps,
            ParallelDims savedMesh,
            boolean savedZero1,
            long bytesCopied,
            long bytesVerified) {}

    /** Fills this rank's parameters and AdamW state from the checkpoint in stepDir. */
    public static Restored load(Path stepDir, ParallelTrainer trainer, RankComms comms) throws IOException {
        CheckpointManifest m = CheckpointDir.verify(stepDir, false);
        try (ShardReader reader = new ShardReader(stepDir, m.getBlockBytes())) {
            return fill(m, reader, stepDir.toString(), trainer, comms);
        }
    }

    /**
     * Fills a flat rank's host buffers (elements [firstElem, firstElem + n) of the parameters and both
     * moments; FlatRank) from the checkpoint in stepDir, whatever mesh saved it. The caller moves them to its
     * device and sets its optimizer's step count to Restored.adamwSteps().
     */
    public static Restored load(Path stepDir, FlatRank rank) throws IOException {
        CheckpointManifest m = CheckpointDir.verify(stepDir, false);
        try (ShardReader reader = new ShardReader(stepDir, m.getBlockBytes())) {
            return fill(m, reader, stepDir.toString(), rank.config(), RankState.flat(rank));
        }
    }

    /**
     * Fills this rank's targets from the tensor shards of manifest m, read through src (shard files or
     * shards held in memory), and sets its optimizer's step count; where names the checkpoint in errors.
     */
    static Restored fill(CheckpointManifest m, ShardSource src, String where, ParallelTrainer trainer, RankComms comms)
            throws IOException {
        Restored r = fill(m, src, where, trainer.model().config(), RankState.toLoad(trainer, comms));
        trainer.optimizer().adamw().setStepCount(r.adamwSteps());
        return r;
    }

    private static Restored fill(
            CheckpointManifest m, ShardSource src, String where, LlamaConfig mine, List<RankState.Piece> targets)
            throws IOException {
        LlamaConfig saved = CheckpointDir.configOf(m);
        if (!saved.withName(mine.name()).equals(mine)) {
            throw new CheckpointException(
                    where + ": saved from model " + saved + ", which does not match this trainer's " + mine);
        }
        Map<String, List<TensorShard>> byTensor = new HashMap<>();
        for (TensorShard t : m.getTensorsList()) {
            byTensor.computeIfAbsent(t.getName() + "/" + t.getKind(), k -> new ArrayList<>())
                    .add(t);
        }
        for (RankState.Piece target : targets) {
            String key = target.name() + "/" + target.kind();
            List<TensorShard> sources = byTensor.getOrDefault(key, List.of());
            Region dst = target.region();
            long base = target.data().address(), filled = 0;
            for (TensorShard s : sources) {
                filled += Region.overlap(
                        dst,
                        Region.of(s),
                        (srcElem, dstElem, n) -> src.copy(s, srcElem, base + dstElem * Float.BYTES, n));
            }
            if (filled != dst.elems()) {
                throw new CheckpointException(where + ": holds " + filled + " of the " + dst.elems()
                        + " elements this rank needs of '" + target.name() + "' (" + target.kind() + ")");
            }
        }
        ParallelDims dims = ParallelDims.of(
                m.getMesh().getTp(), m.getMesh().getPp(), m.getMesh().getDp());
        return new Restored(
                TrainingState.of(m.getState()),
                m.getState().getAdamwSteps(),
                dims,
                m.getMesh().getZero1(),
                src.bytesCopied(),
                src.bytesVerified());
    }
}
