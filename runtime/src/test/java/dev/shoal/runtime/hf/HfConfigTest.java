// config.json ↔ LlamaConfig, and checking a directory's tensor names and shapes against a config.
package dev.shoal.runtime.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfConfigTest {

    @TempDir
    Path tmp;

    /** The config.json Meta publishes for Llama-3.1-8B (fields Shoal reads, plus a few it ignores). */
    static final String LLAMA31_8B =
            """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
             "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
             "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
             "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256}
            """;

    @Test
    void readsMetaLlama31Config() throws Exception {
        Path dir = tmp.resolve("Meta-Llama-3.1-8B");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), LLAMA31_8B);
        LlamaConfig c = HfConfig.read(dir);
        LlamaConfig want = LlamaConfig.preset("llama3-8b");
        assertEquals("Meta-Llama-3.1-8B", c.name());
        assertEquals(want.paramCount(), c.paramCount());
        assertEquals(
                new LlamaConfig(
                        "Meta-Llama-3.1-8B",
                        32,
                        4096,
                        32,
                        8,
                        14336,
                        128256,
                        1e-5,
                        500000.0,
                        Optional.of(LlamaConfig.RopeScaling.llama31()),
                        131072),
                c);
    }

    @Test
    void writeThenReadGivesTheSameConfig() throws Exception {
        for (LlamaConfig c : new LlamaConfig[] {
            LlamaConfig.preset("tiny"),
            LlamaConfig.preset("tiny").withRopeScaling(new LlamaConfig.RopeScaling(4.0, 1.0, 4.0, 64))
        }) {
            Path dir = tmp.resolve("m" + c.ropeScaling().isPresent());
            HfConfig.write(c, SafetensorsDType.BF16, dir);
            assertEquals(c.withName(dir.getFileName().toString()), HfConfig.read(dir));
            assertEquals(
                    "bfloat16",
                    new ObjectMapper()
                            .readTree(dir.resolve("config.json").toFile())
                            .get("torch_dtype")
                            .asText());
        }
    }

    private static HfFormatException refuse(String mutation) {
        return assertThrows(HfFormatException.class, () -> {
            ObjectMapper om = new ObjectMapper();
            ObjectNode o = (ObjectNode) om.readTree(LLAMA31_8B);
            ObjectNode patch = (ObjectNode) om.readTree(mutation);
            patch.fields().forEachRemaining(f -> {
                if (f.getValue().isTextual() && f.getValue().asText().equals("<remove>")) o.remove(f.getKey());
                else o.set(f.getKey(), f.getValue());
            });
            HfConfig.parse(o, "x/config.json", "x");
        });
    }

    @Test
    void mistakesNameTheKey() {
        assertTrue(refuse("{\"hidden_size\": \"<remove>\"}").getMessage().contains("missing key 'hidden_size'"));
        assertTrue(refuse("{\"vocab_size\": \"big\"}").getMessage().contains("'vocab_size' must be an integer"));
        assertTrue(refuse("{\"tie_word_embeddings\": true}").getMessage().contains("'tie_word_embeddings'"));
        assertTrue(refuse("{\"architectures\": [\"MistralForCausalLM\"]}")
                .getMessage()
                .contains("'architectures'"));
        assertTrue(refuse("{\"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}}")
                .getMessage()
                .contains("\"dynamic\""));
        assertTrue(refuse("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}")
                .getMessage()
                .contains("missing key 'low_freq_factor'"));
        assertTrue(refuse("{\"head_dim\": 64}").getMessage().contains("'head_dim'"));
        assertTrue(refuse("{\"num_key_value_heads\": 5}").getMessage().startsWith("x/config.json: "));
        assertTrue(refuse("{\"hidden_act\": \"gelu\"}").getMessage().contains("'hidden_act'"));
    }

    static Map<String, HostTensor> randomModel(LlamaConfig c, long seed) {
        Random rnd = new Random(seed);
        Map<String, HostTensor> m = new LinkedHashMap<>();
        HfConfig.expectedShapes(c).forEach((n, s) -> m.put(n, SafetensorsRoundTripTest.random(rnd, s)));
        return m;
    }

    @Test
    void expectedShapesCountEveryParameter() {
        for (String p : LlamaConfig.presetNames()) {
            LlamaConfig c = LlamaConfig.preset(p);
            long n = 0;
            for (long[] s : HfConfig.expectedShapes(c).values()) n += HostTensor.elems(s);
            assertEquals(c.paramCount(), n, p);
            assertEquals(9 * c.layers() + 3, HfConfig.expectedShapes(c).size());
        }
    }

    @Test
    void directoryTensorsAreCheckedAgainstTheConfig() throws Exception {
        LlamaConfig c = LlamaConfig.preset("tiny");
        Map<String, HostTensor> ok = randomModel(c, 1);
        Path good = tmp.resolve("good");
        HfDirectory.write(good, ok, SafetensorsDType.BF16, 100_000);
        HfConfig.write(c, SafetensorsDType.BF16, good);
        try (HfDirectory d = HfDirectory.open(good)) {
            assertTrue(d.files().size() > 1);
            assertEquals(c.withName("good"), HfConfig.readChecked(d));
        }

        // k_proj with the full width instead of kvDim, a missing norm, an unexpected bias
        Map<String, HostTensor> bad = new LinkedHashMap<>(ok);
        bad.put("model.layers.1.self_attn.k_proj.weight", HostTensor.allocate(64, 64));
        bad.remove("model.layers.0.post_attention_layernorm.weight");
        bad.put("model.layers.0.self_attn.q_proj.bias", HostTensor.allocate(64));
        Path badDir = tmp.resolve("bad");
        HfDirectory.write(badDir, bad, SafetensorsDType.F32, 0);
        HfConfig.write(c, SafetensorsDType.F32, badDir);
        try (HfDirectory d = HfDirectory.open(badDir)) {
            String m = assertThrows(HfFormatException.class, () -> HfConfig.readChecked(d))
                    .getMessage();
            assertTrue(m.startsWith(badDir.toString()), m);
            assertTrue(m.contains("model.layers.1.self_attn.k_proj.weight is [64, 64], expected [32, 64]"), m);
            assertTrue(m.contains("missing (1): model.layers.0.post_attention_layernorm.weight [64]"), m);
            assertTrue(m.contains("unexpected (1): model.layers.0.self_attn.q_proj.bias"), m);
        }
    }
}
