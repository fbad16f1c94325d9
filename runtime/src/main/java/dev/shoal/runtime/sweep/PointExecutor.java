// How a sweep point gets trained. The sweep runner only knows this interface: LocalPointExecutor trains
// in this process, one point at a time; the cluster executor (actors: dev.shoal.cli.ClusterPointExecutor)
// submits each point as a job and runs several at once (concurrency()).
// Contract: run() trains the job to job.steps(), resuming from the newest complete checkpoint in
// job.checkpointDir() when there is one (else from step 0, with a fresh metrics file), leaves one metrics
// line per step in job.metricsFile() as the Trainer writes it, and reports steps done as they happen.
package dev.shoal.runtime.sweep;

import dev.shoal.runtime.train.JobConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.LongConsumer;

public interface PointExecutor {

    /**
     * Trains one point to its end.
     *
     * @param job the point's job (checkpoints and metrics inside its folder)
     * @param pointDir the point's folder (for logs)
     * @param stepsDone called with the steps done so far (any thread, non-decreasing within a run)
     * @return the step the run started from (0, or the checkpoint it resumed)
     * @throws dev.shoal.runtime.train.Trainer.TrainingFailure when the run diverges
     */
    long run(JobConfig job, Path pointDir, LongConsumer stepsDone) throws IOException;

    /** How many points the runner may hand this executor at once (run() is then called from that many threads). */
    default int concurrency() {
        return 1;
    }
}
