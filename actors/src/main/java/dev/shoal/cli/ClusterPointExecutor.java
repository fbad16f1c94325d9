// Trains sweep points as cluster jobs (`shoal sweep --cluster`): each point is submitted through a
// node's JobService and followed by polling Get until it ends; SweepRunner runs up to concurrency()
// points at once, and the cluster runs as many of them as it has job slots and free ranks
// (shoal.coordinator.job-slots; a job waits in FORMING for free ranks, a Submit refused because every
// slot is busy is retried every second).
//
// The point folder ends up as LocalPointExecutor leaves it, so `shoal fit` and resuming work the same:
// the job's checkpoints go to the point's ckpt/ (the nodes must see the sweep folder at the same path),
// rank 0 writes ckpt/metrics.jsonl and, once the job completed all its steps, it is copied atomically
// to the point's metrics.jsonl. The point also gets cluster-job.json (job id, server, submitted,
// started and ended wall-clock times in ms) and train.log (what happened to the job).
// Resuming: a point whose cluster-job.json names a job the cluster still holds is followed (or, if it
// completed, just collected) instead of being submitted again; otherwise it is submitted afresh and
// trains from step 0 (a new cluster job does not load another job's checkpoints).
// Guarantees: run() returns only when the point's metrics.jsonl holds the finished job's lines; a job
// that failed on a non-finite loss or gradient is reported as Trainer.TrainingFailure (the sweep
// records failed.json and goes on); any other end (failed, stopped, lost) is an IOException naming
// the job and its reason.
package dev.shoal.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.actors.control.JobSpecs;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.SubmitRequest;
import dev.shoal.runtime.sweep.PointExecutor;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.Trainer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.function.LongConsumer;

/** Thread-safe: run() is called for several points at once. */
final class ClusterPointExecutor implements PointExecutor {
    static final String JOB_FILE = "cluster-job.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How long the server may stay unreachable while a point's job runs before the point gives up. */
    static final Duration UNREACHABLE_GRACE = Duration.ofSeconds(60);

    private final ControlClient client;
    private final Parallelism parallelism;
    private final int concurrency;
    private final Duration poll;

    ClusterPointExecutor(ControlClient client, Parallelism parallelism, int concurrency, Duration poll) {
        if (concurrency < 1) throw new IllegalArgumentException("concurrency " + concurrency + " < 1");
        this.client = client;
        this.parallelism = parallelism;
        this.concurrency = concurrency;
        this.poll = poll;
    }

    @Override
    public int concurrency() {
        return concurrency;
    }

    @Override
    public long run(JobConfig job, Path pointDir, LongConsumer stepsDone) throws IOException {
        Files.createDirectories(pointDir);
        try (PrintStream log = new PrintStream(
                Files.newOutputStream(
                        pointDir.resolve("train.log"), StandardOpenOption.CREATE, StandardOpenOption.APPEND),
                true,
                StandardCharsets.UTF_8)) {
            ObjectNode record = attachable(pointDir, job, log);
            if (record == null) record = submit(job, pointDir, log);
            String id = record.get("job_id").asText();
            JobStatus end = follow(id, job, pointDir, record, stepsDone, log);
            if (end.getPhase() == Phase.FAILED) {
                String why = "cluster job " + id + " failed at step " + end.getStep() + ": " + end.getMessage();
                log.println(why);
                if (end.getMessage().contains("stopped without updating")) throw new Trainer.TrainingFailure(why);
                throw new IOException(why);
            }
            if (end.getStep() < job.steps()) {
                throw new IOException("cluster job " + id + " ended after step " + end.getStep() + " of " + job.steps()
                        + ": " + end.getMessage() + " (run the sweep again to train the point afresh)");
            }
            Path metrics = job.checkpointDir().resolve("metrics.jsonl");
            if (!Files.isRegularFile(metrics)) {
                throw new IOException("cluster job " + id + " completed but " + metrics + " is missing: the nodes"
                        + " must see the sweep folder at the same path as this process");
            }
            Path tmp = job.metricsFile().resolveSibling("." + job.metricsFile().getFileName() + ".tmp");
            Files.copy(metrics, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, job.metricsFile(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            stepsDone.accept(end.getStep());
            log.printf("cluster job %s completed %d steps%n", id, end.getStep());
            return 0;
        }
    }

    /** True when the point's final step is committed in its checkpoint folder (the job completed). */
    private static boolean finishedOnDisk(JobConfig job) {
        return Files.isDirectory(dev.shoal.runtime.checkpoint.CheckpointDir.stepDir(job.checkpointDir(), job.steps()))
                && Files.isRegularFile(job.checkpointDir().resolve("metrics.jsonl"));
    }

    /** The recorded job of an earlier run of this point, if the cluster still holds it as this job. */
    private ObjectNode attachable(Path pointDir, JobConfig job, PrintStream log) throws IOException {
        Path f = pointDir.resolve(JOB_FILE);
        if (!Files.isRegularFile(f)) return null;
        ObjectNode record = (ObjectNode) JSON.readTree(f.toFile());
        String id = record.path("job_id").asText("");
        if (id.isEmpty()) return null;
        JobStatus s;
        try {
            s = client.call().get(GetRequest.newBuilder().setJobId(id).build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.NOT_FOUND) throw failure("Get " + id, e);
            log.printf("cluster job %s is gone from the cluster: submitting the point again%n", id);
            return null;
        }
        boolean same = s.getSpec().equals(spec(job));
        boolean usable =
                s.getPhase() != Phase.FAILED && (s.getPhase() != Phase.COMPLETED || s.getStep() >= job.steps());
        if (!same || !usable) {
            log.printf(
                    "cluster job %s is %s at step %d%s: submitting the point again%n",
                    id, s.getPhase(), s.getStep(), same ? "" : " with another spec");
            return null;
        }
        log.printf("following cluster job %s (%s at step %d) of an earlier run%n", id, s.getPhase(), s.getStep());
        return record;
    }

    private JobSpec spec(JobConfig job) {
        return JobSpecs.toSpec(job, parallelism);
    }

    /** Submits the point, waiting while every job slot is busy; records the job id. */
    private ObjectNode submit(JobConfig job, Path pointDir, PrintStream log) throws IOException {
        JobSpec spec = spec(job);
        long waitedSince = 0;
        while (true) {
            try {
                String id = client.call()
                        .submit(SubmitRequest.newBuilder().setSpec(spec).build())
                        .getJobId();
                ObjectNode r = JSON.createObjectNode();
                r.put("job_id", id);
                r.put("server", client.server);
                r.put("submitted_ms", System.currentTimeMillis());
                write(pointDir, r);
                log.printf("%s submitted as cluster job %s to %s%n", Instant.now(), id, client.server);
                return r;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION) throw failure("Submit", e);
                if (waitedSince == 0) {
                    waitedSince = System.nanoTime();
                    log.printf(
                            "waiting for a free job slot: %s%n", e.getStatus().getDescription());
                }
                sleep(Duration.ofSeconds(1));
            }
        }
    }

    /** Polls Get until the job ends; reports its steps and records when it started and ended. */
    private JobStatus follow(
            String id, JobConfig job, Path pointDir, ObjectNode record, LongConsumer stepsDone, PrintStream log)
            throws IOException {
        Phase seen = Phase.PHASE_UNSPECIFIED;
        long unreachableSince = 0;
        while (true) {
            JobStatus s;
            try {
                s = client.call().get(GetRequest.newBuilder().setJobId(id).build());
                unreachableSince = 0;
            } catch (StatusRuntimeException e) {
                Status.Code c = e.getStatus().getCode();
                if (c == Status.Code.NOT_FOUND && finishedOnDisk(job)) {
                    // Its slot already took a newer job before this poll saw the end; the point's own
                    // committed final checkpoint says it completed.
                    log.printf(
                            "%s cluster job %s: its slot holds a newer job; step %d is committed in %s%n",
                            Instant.now(), id, job.steps(), job.checkpointDir());
                    if (!record.has("ended_ms")) {
                        record.put("ended_ms", System.currentTimeMillis());
                        record.put("phase", Phase.COMPLETED.name());
                        write(pointDir, record);
                    }
                    return JobStatus.newBuilder()
                            .setJobId(id)
                            .setPhase(Phase.COMPLETED)
                            .setStep(job.steps())
                            .setMessage("completed (seen from its committed final checkpoint)")
                            .build();
                }
                boolean transient_ = c == Status.Code.UNAVAILABLE || c == Status.Code.DEADLINE_EXCEEDED;
                if (!transient_) throw failure("Get " + id, e);
                if (unreachableSince == 0) unreachableSince = System.nanoTime();
                if (System.nanoTime() - unreachableSince > UNREACHABLE_GRACE.toNanos()) throw failure("Get " + id, e);
                sleep(poll);
                continue;
            }
            if (s.getPhase() != seen) {
                log.printf("%s %s: %s%n", Instant.now(), s.getPhase(), s.getMessage());
                seen = s.getPhase();
                boolean begun = s.getPhase() == Phase.TRAINING
                        || s.getPhase() == Phase.COMPLETED
                        || s.getPhase() == Phase.FAILED;
                if (begun && !record.has("started_ms")) { // the first poll that saw it trained or ended
                    record.put("started_ms", System.currentTimeMillis());
                    write(pointDir, record);
                }
            }
            if (s.getStep() > 0 || s.getPhase() == Phase.TRAINING) stepsDone.accept(s.getStep());
            if (s.getPhase() == Phase.COMPLETED || s.getPhase() == Phase.FAILED) {
                if (!record.has("ended_ms")) {
                    record.put("ended_ms", System.currentTimeMillis());
                    record.put("phase", s.getPhase().name());
                    write(pointDir, record);
                }
                return s;
            }
            sleep(poll);
        }
    }

    private static void write(Path pointDir, ObjectNode record) throws IOException {
        Path f = pointDir.resolve(JOB_FILE);
        Path tmp = pointDir.resolve("." + JOB_FILE + ".tmp");
        Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(record));
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private IOException failure(String call, StatusRuntimeException e) {
        Status s = e.getStatus();
        String d = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        return new IOException("server " + client.server + ": " + call + " answered " + s.getCode() + ": " + d, e);
    }

    private static void sleep(Duration d) throws IOException {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
