// A checkpoint's weights as a Hugging Face LlamaForCausalLM directory (config.json + safetensors,
// sharded with an index when larger than maxShardBytes), whatever mesh saved it.
// Guarantees: the whole checkpoint is verified first, every data block's CRC32C included, so a corrupt
// checkpoint is refused naming the file; each global tensor is assembled from its shards exactly
// (fp32 export gives back the saved floats bit for bit; bf16/f16 round to nearest even); the output
// directory must not already hold a checkpoint. Memory: the full fp32 weights are held at once.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.TensorKind;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfDirectory;
import dev.shoal.runtime.hf.HostTensor;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.model.LlamaConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class HfExport {
    private HfExport() {}

    /** Writes the parameters of the checkpoint in stepDir to outDir as dtype; returns the files written. */
    public static List<Path> export(Path stepDir, Path outDir, SafetensorsDType dtype, long maxShardBytes)
            throws IOException {
        CheckpointManifest m = CheckpointDir.verify(stepDir, true);
        LlamaConfig cfg = CheckpointDir.configOf(m);
        Map<String, HostTensor> full = assemble(stepDir, m, TensorKind.PARAM);
        List<Path> written = new ArrayList<>(HfDirectory.write(outDir, full, dtype, maxShardBytes));
        HfConfig.write(cfg, dtype, outDir);
        written.add(outDir.resolve(HfConfig.FILE));
        for (HostTensor t : full.values()) t.data().close();
        return written;
    }

    /** Every global tensor of one kind, in HF order, assembled from the checkpoint's shards. */
    public static Map<String, HostTensor> assemble(Path stepDir, CheckpointManifest m, TensorKind kind)
            throws IOException {
        LlamaConfig cfg = CheckpointDir.configOf(m);
        Map<String, List<TensorShard>> byName = new LinkedHashMap<>();
        for (TensorShard t : m.getTensorsList()) {
            if (t.getKind() == kind)
                byName.computeIfAbsent(t.getName(), k -> new ArrayList<>()).add(t);
        }
        Map<String, HostTensor> out = new LinkedHashMap<>();
        try (ShardReader reader = new ShardReader(stepDir, m.getBlockBytes())) {
            for (Map.Entry<String, long[]> e : HfConfig.expectedShapes(cfg).entrySet()) {
                HostTensor t = HostTensor.allocate(e.getValue());
                long[] mx = Region.matrix(e.getValue());
                Region whole = Region.box(mx[0], mx[1], 0, mx[0], 0, mx[1]);
                long base = t.data().address(), filled = 0;
                for (TensorShard src : byName.getOrDefault(e.getKey(), List.of())) {
                    filled += Region.overlap(
                            whole,
                            Region.of(src),
                            (srcElem, dstElem, n) -> reader.copy(src, srcElem, base + dstElem * Float.BYTES, n));
                }
                if (filled != whole.elems()) {
                    throw new CheckpointException(stepDir + ": holds " + filled + " of the " + whole.elems()
                            + " elements of '" + e.getKey() + "' (" + kind + ")");
                }
                out.put(e.getKey(), t);
            }
        }
        return out;
    }
}
