// `shoal loss`: the next-token loss of a Hugging Face Llama checkpoint on given token sequences, and the
// global L2 norm of that loss's parameter gradients, computed by the CPU engine.
// Guarantees: every position predicts the next token of its sequence (B sequences of length T give
// B·(T−1) counted positions) and the loss is their mean cross-entropy; each user mistake (missing
// directory or file, malformed JSON, ragged or too-short sequences, a token id outside the vocabulary,
// an unreadable checkpoint) is reported as one line naming the file and value, exit code 2.
package dev.shoal.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.GradClip;
import dev.shoal.runtime.tensor.Compute;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "loss",
        mixinStandardHelpOptions = true,
        description = "Mean next-token cross-entropy of an HF Llama checkpoint on token sequences, and the"
                + " global L2 norm of its parameter gradients (CPU, float32).")
public final class LossCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "DIR",
            description = "Hugging Face model directory: config.json and model.safetensors (or shards + index).")
    Path model;

    @Option(
            names = "--tokens",
            required = true,
            paramLabel = "FILE",
            description =
                    "JSON array of equal-length token-id sequences, e.g. [[1,2,3],[4,5,6]]; each at least 2 long.")
    Path tokensFile;

    @Option(names = "--json", description = "Print {\"loss\": ..., \"grad_norm\": ..., \"tokens\": ...}.")
    boolean json;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all available processors).")
    int threads = Runtime.getRuntime().availableProcessors();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** B sequences of T token ids each, row-major. */
    record Sequences(int b, int t, int[] ids) {}

    @Override
    public Integer call() throws IOException {
        if (threads < 1) throw new ShoalCli.UserError("--threads must be >= 1, got " + threads);
        // 1. Inputs: the model directory and its config, then the token file checked against the vocabulary.
        if (!Files.isDirectory(model)) {
            throw new ShoalCli.UserError("--model " + model + ": no such directory");
        }
        LlamaConfig cfg;
        try {
            cfg = HfConfig.read(model);
        } catch (HfFormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        Sequences seq = readTokens(tokensFile, cfg.vocab());
        int b = seq.b(), t = seq.t() - 1; // each sequence predicts its last t tokens from the first t
        if (t > cfg.maxSeqLen()) {
            throw new ShoalCli.UserError(tokensFile + ": sequences of " + seq.t() + " tokens need " + t
                    + " positions, more than max_position_embeddings " + cfg.maxSeqLen() + " of " + model);
        }
        int[] inputs = new int[b * t], targets = new int[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(seq.ids(), i * seq.t(), inputs, i * t, t);
            System.arraycopy(seq.ids(), i * seq.t() + 1, targets, i * t, t);
        }
        // 2. The model, the loss and its gradients.
        double loss, gradNorm;
        try (Compute cx = Compute.cpu(threads)) {
            LlamaModel m;
            try {
                m = HfCheckpoint.load(model, b, t, cx, false);
            } catch (HfFormatException e) {
                throw new ShoalCli.UserError(e.getMessage());
            } catch (IllegalArgumentException e) {
                throw new ShoalCli.UserError(model + ": " + e.getMessage());
            }
            m.zeroGrad();
            loss = m.forward(inputs, targets, b, t);
            m.backward();
            gradNorm = GradClip.globalNorm(m.grads().values(), cx.par());
        }
        // 3. The result.
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("loss", loss);
            o.put("grad_norm", gradNorm);
            o.put("tokens", (long) b * t);
            out.println(o.toString());
        } else {
            out.printf(
                    "loss %.6f  grad_norm %.6f  tokens %d (%d sequences × %d predicted positions)%n",
                    loss, gradNorm, (long) b * t, b, t);
        }
        out.flush();
        return 0;
    }

    /** Parses and checks the token file: a non-empty array of equal-length integer arrays, ids in [0, vocab). */
    static Sequences readTokens(Path file, int vocab) throws IOException {
        if (!Files.isRegularFile(file)) throw new ShoalCli.UserError("--tokens " + file + ": no such file");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null
                    ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr() + ")";
            throw new ShoalCli.UserError(
                    file + ": not valid JSON: " + e.getOriginalMessage().split("\n")[0] + where);
        }
        if (root == null || !root.isArray() || root.isEmpty()) {
            throw new ShoalCli.UserError(
                    file + ": must be a non-empty JSON array of token-id sequences, e.g. [[1,2,3]]");
        }
        int b = root.size();
        int t = -1;
        for (int i = 0; i < b; i++) {
            JsonNode s = root.get(i);
            if (!s.isArray()) {
                throw new ShoalCli.UserError(file + ": sequence " + i + " is not an array of token ids");
            }
            if (s.size() < 2) {
                throw new ShoalCli.UserError(file + ": sequence " + i + " has " + s.size()
                        + " token(s); each needs at least 2 (a token and the next one to predict)");
            }
            if (t < 0) {
                t = s.size();
            } else if (s.size() != t) {
                throw new ShoalCli.UserError(file + ": sequences must have equal lengths, but sequence 0 has " + t
                        + " tokens and sequence " + i + " has " + s.size());
            }
        }
        if ((long) b * t > Integer.MAX_VALUE) {
            throw new ShoalCli.UserError(file + ": " + b + " × " + t + " tokens is too many for one batch");
        }
        int[] ids = new int[b * t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                JsonNode v = root.get(i).get(j);
                if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                    throw new ShoalCli.UserError(
                            file + ": sequence " + i + " position " + j + ": " + v + " is not an integer token id");
                }
                int id = v.intValue();
                if (id < 0 || id >= vocab) {
                    throw new ShoalCli.UserError(file + ": sequence " + i + " position " + j + ": token id " + id
                            + " is outside the model's vocabulary [0, " + vocab + ")");
                }
                ids[i * t + j] = id;
            }
        }
        return new Sequences(b, t, ids);
    }
}
