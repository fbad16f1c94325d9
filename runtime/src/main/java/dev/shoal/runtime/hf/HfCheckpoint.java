// A LlamaModel to and from a Hugging Face LlamaForCausalLM directory (config.json + model.safetensors,
// or shards with model.safetensors.index.json; F32, BF16 or F16 on disk).
// Guarantees: import reads config.json into the model's LlamaConfig and refuses, naming each tensor,
// any directory whose tensors are missing, unexpected or wrongly shaped for that config; every
// parameter is converted to float32 straight into the model's off-heap storage. Export writes the
// tensors under their HF names in HF order, in the chosen dtype (BF16/F16 round to nearest even), and
// config.json last, so export → import gives back the same floats (F32) or their RNE roundings.
package dev.shoal.runtime.hf;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class HfCheckpoint {
    private HfCheckpoint() {}

    /**
     * A new model with the config and weights of an HF directory, with activation buffers for batches
     * up to maxB × maxT tokens. maxT may not exceed the config's max_position_embeddings.
     */
    public static LlamaModel load(Path dir, int maxB, int maxT, Compute cx, boolean recompute) throws IOException {
        try (HfDirectory d = HfDirectory.open(dir)) {
            LlamaConfig cfg = HfConfig.readChecked(d);
            if (maxT > cfg.maxSeqLen()) {
                throw new HfFormatException(dir.resolve(HfConfig.FILE) + ": sequence length " + maxT
                        + " exceeds max_position_embeddings " + cfg.maxSeqLen());
            }
            LlamaModel m = new LlamaModel(cfg, maxB, maxT, cx, recompute);
            copyWeights(d, m);
            return m;
        }
    }

    /**
     * Reads the weights of an HF directory into an existing model, whose config must have the same
     * shape as the directory's config.json (the name may differ).
     */
    public static void loadInto(Path dir, LlamaModel m) throws IOException {
        try (HfDirectory d = HfDirectory.open(dir)) {
            LlamaConfig cfg = HfConfig.readChecked(d);
            if (!cfg.withName(m.config().name()).equals(m.config())) {
                throw new HfFormatException(
                        dir.resolve(HfConfig.FILE) + ": config " + cfg + " does not match the model's " + m.config());
            }
            copyWeights(d, m);
        }
    }

    /**
     * Reads the weights of an HF directory into a model, ignoring the directory's config.json: the
     * tensors must be exactly those of the model's config (e.g. the same weights under another RoPE
     * scaling).
     */
    public static void loadWeights(Path dir, LlamaModel m) throws IOException {
        try (HfDirectory d = HfDirectory.open(dir)) {
            HfConfig.checkTensors(m.config(), d.shapes(), dir);
            copyWeights(d, m);
        }
    }

    /** Every parameter from d (names and shapes already checked against the model's config). */
    private static void copyWeights(HfDirectory d, LlamaModel m) throws IOException {
        for (Map.Entry<String, Tensor> e : m.params().entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            long[] onDisk = d.entry(name).shape();
            long[] want = Arrays.stream(t.shape()).asLongStream().toArray();
            if (!Arrays.equals(onDisk, want)) {
                throw new HfFormatException(d.readerFor(name).file() + ": tensor '" + name + "' has shape "
                        + Arrays.toString(onDisk) + ", the model needs " + Arrays.toString(want));
            }
            d.read(name, t.pointer());
        }
    }

    /** The model's parameters as HostTensors over its own storage (no copy), by HF name in HF order. */
    public static Map<String, HostTensor> hostView(Map<String, Tensor> tensors) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            long[] shape = Arrays.stream(e.getValue().shape()).asLongStream().toArray();
            out.put(e.getKey(), new HostTensor(shape, e.getValue().pointer()));
        }
        return out;
    }

    /**
     * Writes the model to dir as an HF directory: the weights in dtype, in one model.safetensors when
     * they fit maxShardBytes (or maxShardBytes <= 0), else in shards of at most maxShardBytes with an
     * index; then config.json. dir must not already hold a checkpoint. Returns the files written.
     */
    public static List<Path> export(LlamaModel m, Path dir, SafetensorsDType dtype, long maxShardBytes)
            throws IOException {
        List<Path> written = new ArrayList<>(HfDirectory.write(dir, hostView(m.params()), dtype, maxShardBytes));
        HfConfig.write(m.config(), dtype, dir);
        written.add(dir.resolve(HfConfig.FILE));
        return written;
    }
}
