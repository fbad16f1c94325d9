// LlamaModel ↔ HF directory: export then import gives identical floats in F32 (single file and
// shards), the round-to-nearest-even values in BF16 and F16, and a directory that does not fit the
// config is refused with the tensor named.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FloatFormats;
import dev.shoal.runtime.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfCheckpointTest {
    private static final Compute CX = Compute.cpu(2);
    private static final LlamaConfig TINY = LlamaConfig.preset("tiny");

    @TempDir
    Path tmp;

    @AfterAll
    static void close() {
        CX.close();
    }

    /** A tiny model with random weights and norm weights away from 1 (so every tensor differs). */
    static LlamaModel randomModel(LlamaConfig cfg) {
        LlamaModel m = new LlamaModel(cfg, 1, 8, CX, false);
        m.initRandom(7);
        int k = 0;
        for (Tensor t : m.params().values()) {
            if (t.rank() == 1) {
                for (long i = 0; i < t.numel(); i++) t.set(i, 1f + 0.01f * (float) Math.sin(i + 31.0 * k));
            }
            k++;
        }
        return m;
    }

    /** Every parameter of got equals round(want) bit for bit, where round maps float32 bits to float32 bits. */
    static void assertRounded(LlamaModel want, LlamaModel got, IntUnaryOperator round) {
        assertEquals(want.params().keySet(), got.params().keySet());
        for (Map.Entry<String, Tensor> e : want.params().entrySet()) {
            Tensor w = e.getValue();
            Tensor g = got.params().get(e.getKey());
            assertTrue(w.sameShape(g), e.getKey());
            for (long i = 0; i < w.numel(); i++) {
                int wb = round.applyAsInt(Float.floatToRawIntBits(w.get(i)));
                int gb = Float.floatToRawIntBits(g.get(i));
                if (wb != gb) {
                    throw new AssertionError(e.getKey() + "[" + i + "]: want " + Float.intBitsToFloat(wb) + " got "
                            + g.get(i) + " (original " + w.get(i) + ")");
                }
            }
        }
    }

    @Test
    void f32RoundTripIsExactSingleAndSharded() throws Exception {
        LlamaModel m = randomModel(TINY);
        Path single = tmp.resolve("single");
        List<Path> files = HfCheckpoint.export(m, single, SafetensorsDType.F32, 0);
        assertEquals(List.of(single.resolve("model.safetensors"), single.resolve("config.json")), files);
        LlamaModel back = HfCheckpoint.load(single, 1, 8, CX, false);
        assertEquals(TINY, back.config().withName("tiny"));
        assertRounded(m, back, b -> b);

        Path sharded = tmp.resolve("sharded");
        files = HfCheckpoint.export(m, sharded, SafetensorsDType.F32, 200_000);
        assertTrue(Files.exists(sharded.resolve(HfDirectory.INDEX_FILE)));
        assertTrue(files.size() > 3, "expected several shards, wrote " + files);
        LlamaModel back2 = new LlamaModel(TINY, 1, 8, CX, false);
        HfCheckpoint.loadInto(sharded, back2);
        assertRounded(m, back2, b -> b);
    }

    @Test
    void bf16AndF16RoundTripGiveTheRoundedValues() throws Exception {
        LlamaModel m = randomModel(TINY);
        HfCheckpoint.export(m, tmp.resolve("bf16"), SafetensorsDType.BF16, 100_000);
        assertRounded(m, HfCheckpoint.load(tmp.resolve("bf16"), 1, 8, CX, false), b -> {
            short h = FloatFormats.f32ToBf16(Float.intBitsToFloat(b));
            return Float.floatToRawIntBits(FloatFormats.bf16ToF32(h));
        });
        HfCheckpoint.export(m, tmp.resolve("f16"), SafetensorsDType.F16, 0);
        assertRounded(m, HfCheckpoint.load(tmp.resolve("f16"), 1, 8, CX, false), b -> {
            short h = FloatFormats.f32ToF16(Float.intBitsToFloat(b));
            return Float.floatToRawIntBits(FloatFormats.f16ToF32(h));
        });
        // config.json records the dtype the weights are stored in
        assertTrue(Files.readString(tmp.resolve("bf16/config.json")).contains("\"bfloat16\""));
    }

    @Test
    void rope31ConfigSurvivesTheRoundTrip() throws Exception {
        LlamaConfig c = TINY.withRopeScaling(new LlamaConfig.RopeScaling(4.0, 1.0, 4.0, 64));
        LlamaModel m = randomModel(c);
        HfCheckpoint.export(m, tmp.resolve("r"), SafetensorsDType.F32, 0);
        assertEquals(
                c, HfCheckpoint.load(tmp.resolve("r"), 1, 8, CX, false).config().withName("tiny"));
    }

    @Test
    void wrongShapeOrMissingTensorIsNamed() throws Exception {
        LlamaModel m = randomModel(TINY);
        Map<String, HostTensor> t = new LinkedHashMap<>(HfCheckpoint.hostView(m.params()));
        t.put("model.layers.1.mlp.up_proj.weight", HostTensor.allocate(TINY.ffnDim(), TINY.dim() + 1));
        t.remove("model.layers.0.self_attn.k_proj.weight");
        Path dir = tmp.resolve("bad");
        HfDirectory.write(dir, t, SafetensorsDType.F32, 0);
        HfConfig.write(TINY, SafetensorsDType.F32, dir);
        HfFormatException e = assertThrows(HfFormatException.class, () -> HfCheckpoint.load(dir, 1, 8, CX, false));
        assertTrue(
                e.getMessage().contains("model.layers.1.mlp.up_proj.weight is [176, 65], expected [176, 64]"),
                e.getMessage());
        assertTrue(e.getMessage().contains("missing (1): model.layers.0.self_attn.k_proj.weight"), e.getMessage());
    }

    @Test
    void loadIntoAModelOfAnotherShapeIsRefused() throws Exception {
        HfCheckpoint.export(randomModel(TINY), tmp.resolve("t"), SafetensorsDType.F32, 0);
        LlamaModel small = new LlamaModel(LlamaConfig.preset("small"), 1, 8, CX, false);
        HfFormatException e =
                assertThrows(HfFormatException.class, () -> HfCheckpoint.loadInto(tmp.resolve("t"), small));
        assertTrue(e.getMessage().contains("does not match the model's"), e.getMessage());
        assertThrows(HfFormatException.class, () -> HfCheckpoint.load(tmp.resolve("t"), 1, 4096, CX, false));
    }

    @Test
    void exportRefusesADirectoryThatHoldsACheckpoint() throws Exception {
        LlamaModel m = randomModel(TINY);
        HfCheckpoint.export(m, tmp.resolve("x"), SafetensorsDType.F32, 0);
        HfFormatException e = assertThrows(
                HfFormatException.class, () -> HfCheckpoint.export(m, tmp.resolve("x"), SafetensorsDType.F32, 0));
        assertTrue(e.getMessage().contains("already holds a checkpoint"), e.getMessage());
    }
}
