// Rank-local checkpoint loading: every rank of a tp 2 × pp 2 mesh reads its shard of an exported tiny
// checkpoint (single file and sharded) and gets exactly TpPlan.scatter of the full weights, reading
// only its own bytes; a checkpoint of another shape is refused with the tensor named.
package dev.shoal.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.model.ModelShard;
import dev.shoal.runtime.model.TpHooks;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardLoaderTest {
    static final LlamaConfig TINY = LlamaConfig.preset("tiny");

    @TempDir
    Path tmp;

    @Test
    void eachRankReadsExactlyItsShard() throws Exception {
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel full = new LlamaModel(TINY, 1, 4, cx, false);
            full.initRandom(3);
            for (long shardBytes : new long[] {0, 100_000}) {
                Path dir = tmp.resolve("ckpt-" + shardBytes);
                HfCheckpoint.export(full, dir, SafetensorsDType.F32, shardBytes);
                int tp = 2;
                TpPlan plan = new TpPlan(TINY, tp);
                StagePlan stages = StagePlan.balanced(TINY, 2);
                for (int p = 0; p < 2; p++) {
                    for (int t = 0; t < tp; t++) {
                        ModelShard shard = ModelShard.of(TINY, t, tp, stages.layerStart(p), stages.layerEnd(p));
                        LlamaModel loaded = new LlamaModel(TINY, shard, fakeHooks(tp), 1, 4, cx, false);
                        LlamaModel scattered = new LlamaModel(TINY, shard, fakeHooks(tp), 1, 4, cx, false);
                        long bytes = ShardLoader.load(dir, TINY, plan, t, loaded.params());
                        plan.scatter(full.params(), t, scattered.params());
                        String where = "stage " + p + " tp " + t + " from " + dir.getFileName();
                        assertEquals(4 * shard.paramCount(TINY), bytes, where + ": bytes read");
                        for (Map.Entry<String, Tensor> e : scattered.params().entrySet()) {
                            assertEquals(
                                    0.0,
                                    ParallelEquivalenceTest.maxAbsDiff(
                                            e.getValue(), loaded.params().get(e.getKey())),
                                    where + ": " + e.getKey());
                        }
                    }
                }
            }
        }
    }

    @Test
    void aCheckpointOfAnotherShapeIsRefused() throws Exception {
        LlamaConfig other = LlamaConfig.preset("small");
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(TINY, 1, 4, cx, false);
            HfCheckpoint.export(m, tmp.resolve("tiny"), SafetensorsDType.F32, 0);
            TpPlan plan = new TpPlan(other, 2);
            LlamaModel shard = new LlamaModel(other, plan.shard(0), fakeHooks(2), 1, 4, cx, false);
            Exception e = assertThrows(
                    Exception.class, () -> ShardLoader.load(tmp.resolve("tiny"), other, plan, 0, shard.params()));
            assertTrue(
                    e.getMessage().contains("model.embed_tokens.weight")
                            || e.getMessage().contains("shape"),
                    e.getMessage());
        }
    }

    /** Loading needs no communication: hooks that only report the group size. */
    static TpHooks fakeHooks(int size) {
        return new TpHooks() {
            @Override
            public int size() {
                return size;
            }

            @Override
            public void reduceRowParallelOutput(Tensor partial) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void reduceColumnParallelInputGrad(Tensor dx) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void reduceEmbedding(Tensor x) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void maxRows(Tensor rows) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void sumRows(Tensor rows) {
                throw new UnsupportedOperationException();
            }
        };
    }
}
