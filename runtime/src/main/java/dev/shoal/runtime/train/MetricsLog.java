// The metrics JSONL of a training run: one object per line, e.g.
//   {"step":10,"loss":5.83,"grad_norm":1.27,"lr":0.001,"tokens":40960,"tokens_per_s":18211.4,
//    "val_loss":{"en":5.91,"zh":6.02}}
// "step" counts optimizer steps done (step 0 holds the validation losses before training); val_loss
// appears on eval steps only. Doubles are written with Java's shortest round-trip form, so two runs can
// be compared bit for bit. Guarantees: on resume from step k, lines with step > k (written after the
// checkpoint by the interrupted run) are dropped first, so the file reads as one uninterrupted run.
package dev.shoal.runtime.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Not thread-safe: the trainer's loop writes it. */
public final class MetricsLog implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final BufferedWriter out;

    /** Opens the log; keepUpToStep ≥ 0 keeps lines up to that step, −1 starts an empty file. */
    public MetricsLog(Path file, long keepUpToStep) throws IOException {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        List<String> kept = new ArrayList<>();
        if (keepUpToStep >= 0 && Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                try {
                    JsonNode n = JSON.readTree(line);
                    if (n.path("step").asLong(Long.MAX_VALUE) <= keepUpToStep) kept.add(line);
                } catch (IOException e) {
                    // a torn last line of an interrupted run: drop it
                }
            }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    public Path file() {
        return file;
    }

    /** One line; valLoss may be null. */
    public void write(
            long step,
            double loss,
            double gradNorm,
            double lr,
            long tokens,
            double tokensPerSecond,
            Map<String, Double> valLoss)
            throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("step", step);
        if (!Double.isNaN(loss)) {
            n.put("loss", loss);
            n.put("grad_norm", gradNorm);
            n.put("lr", lr);
            n.put("tokens", tokens);
            n.put("tokens_per_s", Math.round(tokensPerSecond * 10) / 10.0);
        }
        if (valLoss != null) {
            ObjectNode v = n.putObject("val_loss");
            valLoss.forEach(v::put);
        }
        out.write(JSON.writeValueAsString(n));
        out.newLine();
        out.flush();
    }

    /** Every line of a metrics file, parsed. */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) out.add(JSON.readTree(line));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
