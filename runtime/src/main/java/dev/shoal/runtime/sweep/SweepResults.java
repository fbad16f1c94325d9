// What a sweep folder holds, read back for fitting and reporting: the grid and languages from sweep.json,
// and for each point its final and starting per-source validation losses (done.json) and its validation
// curves (metrics.jsonl). Points that have not finished are listed as missing, diverged ones as failed.
// Guarantees: a language's loss is the weighted mean (base job weights) of its sources' losses; the
// "original" side is every source whose language is not the additional one.
package dev.shoal.runtime.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.runtime.train.MetricsLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * @param name the sweep's name
 * @param additionalLanguage the new language (its share is the ALMR)
 * @param sourceLanguage source name → language
 * @param sourceWeight source name → weight in the base job
 * @param tokensPerStep B × seq_len
 * @param points finished points
 * @param missing ids of points that have not finished
 * @param failed id → the error of points whose run diverged
 */
public record SweepResults(
        String name,
        String additionalLanguage,
        Map<String, String> sourceLanguage,
        Map<String, Double> sourceWeight,
        long tokensPerStep,
        List<Point> points,
        List<String> missing,
        Map<String, String> failed) {

    /**
     * @param finalLoss source → validation loss at the last step
     * @param startLoss source → validation loss at step 0 (the starting model), may be empty
     * @param curves source → [k][2] (step, validation loss) in step order
     */
    public record Point(
            String id,
            double almr,
            double peakLr,
            long steps,
            long tokens,
            Map<String, Double> finalLoss,
            Map<String, Double> startLoss,
            Map<String, double[][]> curves) {}

    /** The loss of the additional language (new = true) or of the others (new = false), from per-source losses. */
    public double languageLoss(Map<String, Double> perSource, boolean newLanguage) {
        double sum = 0, w = 0;
        for (Map.Entry<String, Double> e : perSource.entrySet()) {
            String lang = sourceLanguage.get(e.getKey());
            if (lang == null || lang.equals(additionalLanguage) != newLanguage) continue;
            double wt = sourceWeight.getOrDefault(e.getKey(), 1.0);
            sum += wt * e.getValue();
            w += wt;
        }
        return w > 0 ? sum / w : Double.NaN;
    }

    /** The original languages, as one label (e.g. "en"). */
    public String originalLabel() {
        return String.join(
                "+",
                sourceLanguage.values().stream()
                        .filter(l -> !l.equals(additionalLanguage))
                        .distinct()
                        .toList());
    }

    /** Reads a sweep output folder. */
    public static SweepResults read(Path dir) throws IOException {
        Path sj = dir.resolve("sweep.json");
        if (!Files.isRegularFile(sj)) {
            throw new SweepConfigException("--sweep " + dir + ": no sweep.json (not a `shoal sweep` output folder)");
        }
        JsonNode s = SweepRunner.JSON.readTree(sj.toFile());
        Map<String, String> lang = new LinkedHashMap<>();
        Map<String, Double> weight = new LinkedHashMap<>();
        for (JsonNode src : s.path("sources")) {
            lang.put(src.get("name").asText(), src.get("language").asText());
            weight.put(src.get("name").asText(), src.get("weight").asDouble());
        }
        List<Point> points = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (JsonNode idNode : s.path("points")) {
            String id = idNode.asText();
            Path pd = dir.resolve("points").resolve(id);
            if (Files.exists(pd.resolve("done.json"))) {
                JsonNode d = SweepRunner.JSON.readTree(pd.resolve("done.json").toFile());
                points.add(new Point(
                        id,
                        d.get("almr").asDouble(),
                        d.get("peak_lr").asDouble(),
                        d.get("steps").asLong(),
                        d.get("tokens").asLong(),
                        losses(d.path("val_loss")),
                        losses(d.path("start_val_loss")),
                        curves(pd.resolve("metrics.jsonl"))));
            } else if (Files.exists(pd.resolve("failed.json"))) {
                failed.put(
                        id,
                        SweepRunner.JSON
                                .readTree(pd.resolve("failed.json").toFile())
                                .path("error")
                                .asText());
            } else {
                missing.add(id);
            }
        }
        return new SweepResults(
                s.path("name").asText(),
                s.path("additional_language").asText(),
                lang,
                weight,
                s.path("tokens_per_step").asLong(),
                points,
                missing,
                failed);
    }

    private static Map<String, Double> losses(JsonNode n) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            m.put(e.getKey(), e.getValue().asDouble());
        }
        return m;
    }

    private static Map<String, double[][]> curves(Path metrics) throws IOException {
        Map<String, List<double[]>> acc = new LinkedHashMap<>();
        if (Files.exists(metrics)) {
            for (JsonNode line : MetricsLog.read(metrics)) {
                if (!line.has("val_loss")) continue;
                double step = line.get("step").asDouble();
                line.get("val_loss").fields().forEachRemaining(e -> acc.computeIfAbsent(
                                e.getKey(), k -> new ArrayList<>())
                        .add(new double[] {step, e.getValue().asDouble()}));
            }
        }
        Map<String, double[][]> out = new LinkedHashMap<>();
        acc.forEach((k, v) -> out.put(k, v.toArray(new double[0][])));
        return out;
    }
}
