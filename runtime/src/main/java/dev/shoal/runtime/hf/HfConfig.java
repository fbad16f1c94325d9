// Hugging Face config.json ↔ LlamaConfig, and the check that a set of tensors is exactly what a
// Llama-3 config needs (HF names and shapes). Guarantees: only a config Shoal computes correctly is
// accepted (LlamaForCausalLM, untied head, silu, no biases, rope_scaling absent or "llama3"); every
// error names the file and the key; a tensor mismatch lists every missing, unexpected and
// wrong-shape tensor by name.
package dev.shoal.runtime.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.model.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

public final class HfConfig {
    private HfConfig() {}

    public static final String FILE = "config.json";
    public static final String ARCHITECTURE = "LlamaForCausalLM";

    /** Reads config.json from a model directory (or the file itself); the model is named after the directory. */
    public static LlamaConfig read(Path dirOrFile) throws IOException {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve(FILE) : dirOrFile;
        if (!Files.isRegularFile(file)) throw new HfFormatException(file + ": no such file");
        JsonNode root;
        try {
            root = SafetensorsReader.JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new HfFormatException(
                    file + ": not valid JSON: " + e.getOriginalMessage().split("\n")[0], e);
        }
        Path parent = file.toAbsolutePath().getParent();
        String name = parent.getFileName() == null ? "hf" : parent.getFileName().toString();
        return parse(root, file.toString(), name);
    }

    /** A LlamaConfig from a parsed config.json; source names the file in errors. */
    public static LlamaConfig parse(JsonNode root, String source, String name) throws HfFormatException {
        if (root == null || !root.isObject()) throw new HfFormatException(source + ": must be a JSON object");
        JsonNode arch = root.get("architectures");
        boolean isLlama = false;
        if (arch != null && arch.isArray()) {
            for (JsonNode a : arch) isLlama |= ARCHITECTURE.equals(a.asText());
        }
        if (!isLlama) {
            throw new HfFormatException(source + ": key 'architectures' must list " + ARCHITECTURE + ", got " + arch);
        }
        expectText(root, "model_type", "llama", source);
        expectText(root, "hidden_act", "silu", source);
        expectFalse(root, "attention_bias", source);
        expectFalse(root, "mlp_bias", source);
        expectFalse(root, "tie_word_embeddings", source);

        int dim = intKey(root, "hidden_size", source);
        int ffn = intKey(root, "intermediate_size", source);
        int layers = intKey(root, "num_hidden_layers", source);
        int heads = intKey(root, "num_attention_heads", source);
        int kvHeads = root.hasNonNull("num_key_value_heads") ? intKey(root, "num_key_value_heads", source) : heads;
        int vocab = intKey(root, "vocab_size", source);
        double eps = doubleKey(root, "rms_norm_eps", source);
        double theta = root.hasNonNull("rope_theta") ? doubleKey(root, "rope_theta", source) : 10_000.0;
        int maxPos = intKey(root, "max_position_embeddings", source);
        if (root.hasNonNull("head_dim") && heads > 0 && intKey(root, "head_dim", source) * heads != dim) {
            throw new HfFormatException(source + ": key 'head_dim' " + root.get("head_dim") + " × num_attention_heads "
                    + heads + " must equal hidden_size " + dim);
        }
        Optional<LlamaConfig.RopeScaling> scaling = ropeScaling(root.get("rope_scaling"), source);
        try {
            return new LlamaConfig(name, layers, dim, heads, kvHeads, ffn, vocab, eps, theta, scaling, maxPos);
        } catch (IllegalArgumentException e) {
            throw new HfFormatException(source + ": " + e.getMessage(), e);
        }
    }

    private static Optional<LlamaConfig.RopeScaling> ropeScaling(JsonNode rs, String source) throws HfFormatException {
        if (rs == null || rs.isNull()) return Optional.empty();
        if (!rs.isObject()) throw new HfFormatException(source + ": key 'rope_scaling' must be an object or null");
        JsonNode type = rs.hasNonNull("rope_type") ? rs.get("rope_type") : rs.get("type");
        if (type == null || !"llama3".equals(type.asText())) {
            throw new HfFormatException(source + ": key 'rope_scaling.rope_type' is " + type
                    + "; Shoal implements only \"llama3\" (or no rope_scaling)");
        }
        String src = source + " rope_scaling";
        try {
            return Optional.of(new LlamaConfig.RopeScaling(
                    doubleKey(rs, "factor", src),
                    doubleKey(rs, "low_freq_factor", src),
                    doubleKey(rs, "high_freq_factor", src),
                    intKey(rs, "original_max_position_embeddings", src)));
        } catch (IllegalArgumentException e) {
            throw new HfFormatException(source + ": " + e.getMessage(), e);
        }
    }

    private static void expectText(JsonNode root, String key, String want, String source) throws HfFormatException {
        JsonNode v = root.get(key);
        if (v != null && !v.isNull() && !want.equals(v.asText())) {
            throw new HfFormatException(
                    source + ": key '" + key + "' is " + v + "; Shoal supports only \"" + want + "\"");
        }
    }

    private static void expectFalse(JsonNode root, String key, String source) throws HfFormatException {
        JsonNode v = root.get(key);
        if (v != null && !v.isNull() && (!v.isBoolean() || v.asBoolean())) {
            throw new HfFormatException(source + ": key '" + key + "' is " + v + "; Shoal supports only false");
        }
    }

    private static int intKey(JsonNode root, String key, String source) throws HfFormatException {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) throw new HfFormatException(source + ": missing key '" + key + "'");
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new HfFormatException(source + ": key '" + key + "' must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static double doubleKey(JsonNode root, String key, String source) throws HfFormatException {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) throw new HfFormatException(source + ": missing key '" + key + "'");
        if (!v.isNumber()) throw new HfFormatException(source + ": key '" + key + "' must be a number, got " + v);
        return v.asDouble();
    }

    /** The config.json text HF's LlamaForCausalLM loads for this config, weights stored as dtype. */
    public static ObjectNode toJson(LlamaConfig c, SafetensorsDType dtype) {
        ObjectNode o = SafetensorsReader.JSON.createObjectNode();
        o.putArray("architectures").add(ARCHITECTURE);
        o.put("model_type", "llama");
        o.put("hidden_size", c.dim());
        o.put("intermediate_size", c.ffnDim());
        o.put("num_hidden_layers", c.layers());
        o.put("num_attention_heads", c.heads());
        o.put("num_key_value_heads", c.kvHeads());
        o.put("head_dim", c.headDim());
        o.put("vocab_size", c.vocab());
        o.put("rms_norm_eps", c.normEps());
        o.put("rope_theta", c.ropeTheta());
        o.put("max_position_embeddings", c.maxSeqLen());
        if (c.ropeScaling().isPresent()) {
            LlamaConfig.RopeScaling s = c.ropeScaling().get();
            ObjectNode rs = o.putObject("rope_scaling");
            rs.put("rope_type", "llama3");
            rs.put("factor", s.factor());
            rs.put("low_freq_factor", s.lowFreqFactor());
            rs.put("high_freq_factor", s.highFreqFactor());
            rs.put("original_max_position_embeddings", s.originalMaxPosition());
        } else {
            o.putNull("rope_scaling");
        }
        o.put("tie_word_embeddings", false);
        o.put("hidden_act", "silu");
        o.put("attention_bias", false);
        o.put("mlp_bias", false);
        o.put("torch_dtype", dtype.torchName());
        return o;
    }

    /** Writes dir/config.json atomically. */
    public static void write(LlamaConfig c, SafetensorsDType dtype, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + FILE + ".tmp-" + ProcessHandle.current().pid());
        SafetensorsReader.JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), toJson(c, dtype));
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Every parameter of LlamaForCausalLM by HF name, with its HF shape ([out, in] for weights). */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        long v = c.vocab(), C = c.dim(), f = c.ffnDim(), kv = c.kvDim();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[] {v, C});
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            m.put(p + "input_layernorm.weight", new long[] {C});
            m.put(p + "self_attn.q_proj.weight", new long[] {C, C});
            m.put(p + "self_attn.k_proj.weight", new long[] {kv, C});
            m.put(p + "self_attn.v_proj.weight", new long[] {kv, C});
            m.put(p + "self_attn.o_proj.weight", new long[] {C, C});
            m.put(p + "post_attention_layernorm.weight", new long[] {C});
            m.put(p + "mlp.gate_proj.weight", new long[] {f, C});
            m.put(p + "mlp.up_proj.weight", new long[] {f, C});
            m.put(p + "mlp.down_proj.weight", new long[] {C, f});
        }
        m.put("model.norm.weight", new long[] {C});
        m.put("lm_head.weight", new long[] {v, C});
        return m;
    }

    /**
     * Checks that actual holds exactly the tensors of expectedShapes(c); otherwise throws naming
     * every missing, unexpected and wrong-shape tensor. HF's non-persistent rotary buffers
     * (…rotary_emb.inv_freq) are tolerated, as HF itself ignores them.
     */
    public static void checkTensors(LlamaConfig c, Map<String, long[]> actual, Object source) throws HfFormatException {
        Map<String, long[]> want = expectedShapes(c);
        List<String> missing = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, long[]> e : want.entrySet()) {
            long[] got = actual.get(e.getKey());
            if (got == null) {
                missing.add(e.getKey() + " " + Arrays.toString(e.getValue()));
            } else if (!Arrays.equals(got, e.getValue())) {
                wrong.add(e.getKey() + " is " + Arrays.toString(got) + ", expected " + Arrays.toString(e.getValue()));
            }
        }
        for (String n : actual.keySet()) {
            if (!want.containsKey(n) && !n.endsWith("rotary_emb.inv_freq")) extra.add(n);
        }
        if (missing.isEmpty() && extra.isEmpty() && wrong.isEmpty()) return;
        StringBuilder sb = new StringBuilder(source + ": tensors do not match config '" + c.name() + "' ("
                + c.layers() + " layers, dim " + c.dim() + ", heads " + c.heads() + ", kv heads " + c.kvHeads()
                + ", ffn " + c.ffnDim() + ", vocab " + c.vocab() + ")");
        appendList(sb, "wrong shape", wrong);
        appendList(sb, "missing", missing);
        appendList(sb, "unexpected", extra);
        throw new HfFormatException(sb.toString());
    }

    private static void appendList(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) return;
        int show = Math.min(items.size(), 8);
        sb.append("; ").append(what).append(" (").append(items.size()).append("): ");
        sb.append(String.join(", ", items.subList(0, show)));
        if (items.size() > show) sb.append(", … ").append(items.size() - show).append(" more");
    }

    /** Reads dir/config.json and checks the directory's tensors against it. */
    public static LlamaConfig readChecked(HfDirectory d) throws IOException {
        LlamaConfig c = read(d.dir());
        checkTensors(c, d.shapes(), d.dir());
        return c;
    }
}
