// Runs every point of a sweep through a PointExecutor (one after another, or up to the executor's
// concurrency() at once) into an output folder:
//   DIR/sweep.json                 the grid, the languages and the base job's shape (what `shoal fit` reads)
//   DIR/points/<id>/point.json     the point and its job fingerprint, written before it runs
//   DIR/points/<id>/metrics.jsonl  the trainer's metrics: per-source validation loss curves
//   DIR/points/<id>/ckpt/          its checkpoints (deleted once done when keep_checkpoints = false)
//   DIR/points/<id>/done.json      written last, atomically: the point is finished
//   DIR/points/<id>/failed.json    the run diverged (a result of an LR sweep, not a crash of the sweep)
// Guarantees: a point with done.json is never run again; a point without it resumes from its newest
// complete checkpoint (or restarts from step 0 with a fresh metrics file); a point folder made by a
// different job (another fingerprint) is refused, naming what differs, instead of being mixed in.
package dev.shoal.runtime.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.MetricsLog;
import dev.shoal.runtime.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/** Not thread-safe: one runner per output folder. */
public final class SweepRunner {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What a run of the sweep did. */
    public record Summary(int ran, int skipped, List<String> failed, double seconds) {}

    private final SweepConfig config;
    private final Path out;
    private final PointExecutor executor;

    public SweepRunner(SweepConfig config, Path out, PointExecutor executor) {
        this.config = config;
        this.out = out;
        this.executor = executor;
    }

    public static Path pointDir(Path out, SweepPoint p) {
        return out.resolve("points").resolve(p.id());
    }

    /**
     * Runs the points not yet done. notes gets one line per point (may be null); progress gets the grid bar
     * (null: none). retryFailed runs diverged points again. Points run one after another, or up to
     * executor.concurrency() at once (each point's files are its own; done.json is still written last).
     */
    public Summary run(PrintStream notes, PrintStream progress, boolean retryFailed) throws IOException {
        long t0 = System.nanoTime();
        List<SweepPoint> points = config.points();
        // Check every existing point folder before running (or recording) anything.
        for (SweepPoint p : points) checkFingerprint(p);
        Files.createDirectories(out.resolve("points"));
        writeSweepJson();
        long total = points.stream().mapToLong(SweepPoint::steps).sum();
        int skipped = 0;
        List<String> failed = new ArrayList<>();
        List<Integer> toRun = new ArrayList<>();
        try (SweepProgress bar = new SweepProgress(progress, total, points.size())) {
            for (int i = 0; i < points.size(); i++) {
                SweepPoint p = points.get(i);
                Path dir = pointDir(out, p);
                if (Files.exists(dir.resolve("done.json"))) {
                    bar.skipped(p.steps());
                    skipped++;
                } else if (Files.exists(dir.resolve("failed.json")) && !retryFailed) {
                    bar.skipped(p.steps());
                    failed.add(p.id());
                    skipped++;
                } else {
                    toRun.add(i);
                }
            }
            int ran = 0;
            int parallel = Math.max(1, Math.min(executor.concurrency(), toRun.size()));
            if (parallel == 1) {
                for (int i : toRun) {
                    if (runPoint(i, bar, notes)) ran++;
                    else failed.add(points.get(i).id());
                }
            } else {
                java.util.concurrent.ExecutorService pool =
                        java.util.concurrent.Executors.newFixedThreadPool(parallel, r -> {
                            Thread t = new Thread(r, "sweep-point");
                            t.setDaemon(true);
                            return t;
                        });
                try {
                    List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
                    for (int i : toRun) results.add(pool.submit(() -> runPoint(i, bar, notes)));
                    IOException first = null;
                    for (int k = 0; k < results.size(); k++) {
                        try {
                            if (results.get(k).get()) ran++;
                            else failed.add(points.get(toRun.get(k)).id());
                        } catch (java.util.concurrent.ExecutionException e) {
                            IOException io = e.getCause() instanceof IOException x
                                    ? x
                                    : new IOException(
                                            "point " + points.get(toRun.get(k)).id() + ": " + e.getCause(),
                                            e.getCause());
                            if (first == null) first = io;
                            else first.addSuppressed(io);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException("interrupted while the sweep's points ran", e);
                        }
                    }
                    if (first != null) throw first;
                } finally {
                    pool.shutdownNow();
                }
            }
            return new Summary(ran, skipped, failed, (System.nanoTime() - t0) / 1e9);
        }
    }

    /** Runs point i to done.json (true) or failed.json (false, diverged). */
    private boolean runPoint(int i, SweepProgress bar, PrintStream notes) throws IOException {
        SweepPoint p = config.points().get(i);
        Path dir = pointDir(out, p);
        Files.deleteIfExists(dir.resolve("failed.json"));
        JobConfig job = p.job(config.base(), dir);
        writeAtomically(dir.resolve("point.json"), pointJson(p, job));
        bar.start(i + 1, p.id(), p.steps());
        long t = System.nanoTime();
        try {
            long from = executor.run(job, dir, done -> bar.stepsDone(i + 1, done));
            ObjectNode done = doneJson(p, job, (System.nanoTime() - t) / 1e9, from);
            writeAtomically(dir.resolve("done.json"), done);
            if (!config.keepCheckpoints()) deleteTree(job.checkpointDir());
            bar.finish(i + 1);
            note(
                    bar,
                    notes,
                    String.format(
                            Locale.ROOT,
                            "done %s%s: val_loss %s (%.1fs)",
                            p.id(),
                            from > 0 ? " (resumed at step " + from + ")" : "",
                            done.get("val_loss"),
                            (System.nanoTime() - t) / 1e9));
            return true;
        } catch (Trainer.TrainingFailure e) {
            ObjectNode f = base(p, job);
            f.put("error", e.getMessage());
            writeAtomically(dir.resolve("failed.json"), f);
            bar.finish(i + 1);
            note(bar, notes, "FAILED " + p.id() + ": " + e.getMessage());
            return false;
        } catch (IOException | RuntimeException e) {
            bar.finish(i + 1);
            throw e;
        }
    }

    private static void note(SweepProgress bar, PrintStream notes, String line) {
        if (notes == null) return;
        synchronized (bar) {
            bar.clearLine(); // the bar and the notes may share one terminal
            notes.println(line);
            notes.flush();
        }
    }

    private void checkFingerprint(SweepPoint p) throws IOException {
        Path f = pointDir(out, p).resolve("point.json");
        if (!Files.exists(f)) return;
        JsonNode was = JSON.readTree(f.toFile()).path("fingerprint");
        Map<String, String> now = SweepPoint.fingerprint(p.job(config.base(), pointDir(out, p)));
        StringBuilder diff = new StringBuilder();
        for (Map.Entry<String, String> e : now.entrySet()) {
            String w = was.path(e.getKey()).asText(null);
            if (!e.getValue().equals(w)) {
                diff.append(diff.length() == 0 ? "" : "; ")
                        .append(e.getKey())
                        .append(": folder ")
                        .append(w)
                        .append(", config ")
                        .append(e.getValue());
            }
        }
        if (diff.length() > 0) {
            throw new SweepConfigException(pointDir(out, p) + " was run with a different job (" + diff
                    + "); use another --out or delete that folder");
        }
    }

    private void writeSweepJson() throws IOException {
        JobConfig b = config.base();
        ObjectNode n = JSON.createObjectNode();
        n.put("name", config.name());
        n.put("model", b.model());
        n.put("additional_language", b.data().additionalLanguage());
        ArrayNode src = n.putArray("sources");
        for (MixtureSpec.Source s : b.data().sources()) {
            src.addObject().put("name", s.name()).put("language", s.lang()).put("weight", s.weight());
        }
        n.put("seq_len", b.seqLen());
        n.put("global_batch", b.globalBatch());
        n.put("tokens_per_step", (long) b.seqLen() * b.globalBatch());
        n.put("lr_kind", b.lr().kind().key());
        n.put("min_lr_ratio", b.lr().minLr() / b.lr().peakLr());
        config.almrs().stream().sorted().forEach(n.putArray("almr")::add);
        config.peakLrs().stream().sorted().forEach(n.putArray("peak_lr")::add);
        config.steps().stream().sorted().forEach(n.putArray("steps")::add);
        ArrayNode pts = n.putArray("points");
        for (SweepPoint p : config.points()) pts.add(p.id());
        writeAtomically(out.resolve("sweep.json"), n);
    }

    private ObjectNode base(SweepPoint p, JobConfig job) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", p.id());
        n.put("almr", p.almr());
        n.put("peak_lr", p.peakLr());
        n.put("steps", p.steps());
        n.put("tokens", p.steps() * job.globalBatch() * job.seqLen());
        return n;
    }

    private ObjectNode pointJson(SweepPoint p, JobConfig job) {
        ObjectNode n = base(p, job);
        ObjectNode f = n.putObject("fingerprint");
        SweepPoint.fingerprint(job).forEach(f::put);
        return n;
    }

    /** done.json: the final and the starting validation loss per source, read back from the metrics. */
    private ObjectNode doneJson(SweepPoint p, JobConfig job, double seconds, long resumedFrom) throws IOException {
        JsonNode first = null, last = null;
        for (JsonNode line : MetricsLog.read(job.metricsFile())) {
            if (!line.has("val_loss")) continue;
            long s = line.get("step").asLong();
            if (s == 0) first = line.get("val_loss");
            if (s == job.steps()) last = line.get("val_loss");
        }
        if (last == null) {
            throw new IOException(job.metricsFile() + " has no validation loss at the final step " + job.steps());
        }
        ObjectNode n = base(p, job);
        n.put("seconds", Math.round(seconds * 10) / 10.0);
        n.put("resumed_from_step", resumedFrom);
        n.set("val_loss", last.deepCopy());
        if (first != null) n.set("start_val_loss", first.deepCopy());
        return n;
    }

    static void writeAtomically(Path file, JsonNode n) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.write(tmp, JSON.writeValueAsBytes(n));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            Iterator<Path> it = s.sorted(Comparator.reverseOrder()).iterator();
            while (it.hasNext()) Files.delete(it.next());
        }
    }
}
