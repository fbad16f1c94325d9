// Trains a sweep point in this process with the single-process Trainer (sequentially, one point at a time).
// The Trainer's notes go to the point's train.log; progress is read back from the metrics JSONL as the
// Trainer appends it (MetricsTail), the same signal a remote executor would have.
package dev.shoal.runtime.sweep;

import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.LongConsumer;

/** Stateless; not for concurrent use on the same point. */
public final class LocalPointExecutor implements PointExecutor {

    @Override
    public long run(JobConfig job, Path pointDir, LongConsumer stepsDone) throws IOException {
        Files.createDirectories(pointDir);
        try (OutputStream logFile = Files.newOutputStream(
                        pointDir.resolve("train.log"), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                PrintStream log = new PrintStream(logFile, true, StandardCharsets.UTF_8);
                MetricsTail tail = new MetricsTail(job.metricsFile(), stepsDone);
                Trainer t = new Trainer(job, log, null)) {
            Trainer.Result r = t.run(true, Long.MAX_VALUE);
            tail.poll();
            log.printf("ran steps %d..%d in %.1fs%n", r.startStep(), r.endStep(), r.seconds());
            return r.startStep();
        }
    }
}
