// Rank-local loading of a Hugging Face checkpoint: one rank reads only its own part of each tensor
// (its rows of the column-parallel and vocab-parallel weights, its columns of the row-parallel ones,
// the whole replicated norm weights, and only the tensors of its pipeline stage), straight into its
// model's off-heap parameters.
// Guarantees: the directory's tensors must be exactly those of the full config (HfConfig.checkTensors
// names each missing, unexpected or misshapen one); the result equals TpPlan.scatter of the fully
// loaded weights; the bytes read are the shard's own (returned so callers can report them).
package dev.shoal.runtime.parallel;

import dev.shoal.runtime.hf.ByteRange;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfDirectory;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

public final class ShardLoader {
    private ShardLoader() {}

    /** Fills local (a rank's params(), HF names) from the checkpoint in dir; returns the bytes read. */
    public static long load(Path dir, LlamaConfig cfg, TpPlan plan, int tpRank, Map<String, Tensor> local)
            throws IOException {
        try (HfDirectory d = HfDirectory.open(dir)) {
            HfConfig.checkTensors(cfg, d.shapes(), dir);
            for (Map.Entry<String, Tensor> e : local.entrySet()) {
                String name = e.getKey();
                Tensor t = e.getValue();
                switch (TpPlan.split(name)) {
                    case REPLICATED -> d.read(name, t.pointer());
                    case ROWS -> {
                        int[] r = plan.range(name, tpRank);
                        d.readRows(name, r[0], r[1], t.pointer());
                    }
                    case COLUMNS -> {
                        int[] c = plan.range(name, tpRank);
                        d.readColumns(name, c[0], c[1], t.pointer());
                    }
                }
            }
            long bytes = 0;
            for (List<ByteRange> ranges : d.touchedRanges().values()) {
                for (ByteRange r : ranges) {
                    bytes += r.end() - r.begin();
                }
            }
            return bytes;
        }
    }
}
