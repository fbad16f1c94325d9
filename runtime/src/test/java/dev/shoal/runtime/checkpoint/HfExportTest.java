// Export of a sharded checkpoint (saved at tp 2 × pp 2, so the weights are spread over four files as
// row slices, column slices and stage-owned tensors) to a Hugging Face directory: HfCheckpoint loads
// it back with the same weights bit for bit (fp32) or their round-to-nearest-even bf16 values, in one
// file or in shards with an index; a corrupt checkpoint is refused naming the file.
package dev.shoal.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.checkpoint.MeshRun.Layout;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.hf.HfDirectory;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FloatFormats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfExportTest {
    @TempDir
    Path tmp;

    @Test
    void exportLoadsBackAsTheSameWeights() throws Exception {
        Path root = tmp.resolve("ckpt");
        Map<String, float[]> state;
        try (MeshRun run = new MeshRun(Layout.of(2, 2, 1, false), MeshRun.initialWeights())) {
            run.train(0, 2);
            run.onAll((r, t, c) -> {
                try (Checkpointer ck = new Checkpointer(root, c, Checkpointer.Options.defaults())) {
                    return ck.saveSync(t, MeshRun.state(2));
                }
            });
            state = run.global();
        }
        Path step = CheckpointDir.stepDir(root, 2);
        Path f32 = tmp.resolve("hf32"), bf16 = tmp.resolve("hf16");
        HfExport.export(step, f32, SafetensorsDType.F32, 0);
        HfExport.export(step, bf16, SafetensorsDType.BF16, 100_000); // forces shards + index
        assertTrue(Files.exists(bf16.resolve(HfDirectory.INDEX_FILE)));
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel a = HfCheckpoint.load(f32, 1, 8, cx, false), b = HfCheckpoint.load(bf16, 1, 8, cx, false);
            assertEquals(MeshRun.TINY.withName(a.config().name()), a.config());
            for (String k : a.params().keySet()) {
                float[] want = state.get("param|" + k);
                assertArrayEquals(want, a.params().get(k).toArray(), k);
                float[] got16 = b.params().get(k).toArray();
                for (int i = 0; i < want.length; i++) {
                    float r = FloatFormats.bf16ToF32(FloatFormats.f32ToBf16(want[i]));
                    if (Float.floatToIntBits(r) != Float.floatToIntBits(got16[i])) {
                        throw new AssertionError(k + "[" + i + "]: bf16 " + got16[i] + ", want " + r);
                    }
                }
            }
        }
        // A flipped byte: refused before anything is written, naming the shard file.
        Path shard = step.resolve("rank-00003.shard");
        byte[] bytes = Files.readAllBytes(shard);
        bytes[17] ^= 1;
        Files.write(shard, bytes);
        CheckpointException e = assertThrows(
                CheckpointException.class, () -> HfExport.export(step, tmp.resolve("bad"), SafetensorsDType.F32, 0));
        assertTrue(e.getMessage().contains("rank-00003.shard: CRC32C mismatch"), e.getMessage());
        assertTrue(!Files.exists(tmp.resolve("bad").resolve("model.safetensors")));
    }
}
