// The metrics one node exposes to Prometheus (Micrometer's Prometheus registry): the job's progress
// as the coordinator reports it (step time, tokens/s, MFU, loss and per-source validation loss, phase,
// mesh epoch, recoveries and their durations, checkpoints), this node's own work (step compute time
// of its workers, communicator errors, checkpoint save time) and the JVM (heap, GC, threads), plus a
// gauge of GPU memory per device when a pool reports it.
//
// Guarantees: every update method is thread-safe and cheap (no allocation on the step path beyond
// Micrometer's own); a source or device seen once keeps its series; nothing here blocks training.
// Names follow Prometheus conventions: shoal_* with base units (seconds, bytes).
package dev.shoal.actors.ops;

import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleSupplier;

public final class NodeMetrics implements AutoCloseable {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    // Job progress (from the coordinator's events).
    private final AtomicLong step = new AtomicLong();
    private final AtomicDouble loss = new AtomicDouble();
    private final AtomicDouble gradNorm = new AtomicDouble();
    private final AtomicDouble lr = new AtomicDouble();
    private final AtomicDouble tokensPerSecond = new AtomicDouble();
    private final AtomicDouble mfu = new AtomicDouble();
    private final Timer stepTime;
    private final Counter tokens;
    private final Map<String, AtomicDouble> validation = new ConcurrentHashMap<>();
    private final Map<Phase, AtomicLong> phase = new ConcurrentHashMap<>();
    private final AtomicLong meshEpoch = new AtomicLong();
    private final Counter recoveries;
    private final Timer recoveryTime;
    private final Counter rescales;
    private final Timer rescaleTime;
    private final AtomicLong lastCheckpointStep = new AtomicLong();
    private final DistributionSummary checkpointBytes;

    // This node's work.
    private final Timer workerStep;
    private final Timer checkpointSave;
    private final Map<String, Counter> commErrors = new ConcurrentHashMap<>();

    public NodeMetrics(String node) {
        registry.config().commonTags("node", node);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);

        Gauge.builder("shoal_step", step, AtomicLong::get)
                .description("Last completed global step")
                .register(registry);
        gauge("shoal_loss", loss, "Training loss of the last step");
        gauge("shoal_grad_norm", gradNorm, "Global gradient L2 norm of the last step (before clipping)");
        gauge("shoal_learning_rate", lr, "Learning rate of the last step");
        gauge("shoal_tokens_per_second", tokensPerSecond, "Training throughput of the last step");
        gauge("shoal_mfu", mfu, "Model FLOP utilization of the last step (0..1)");
        stepTime = Timer.builder("shoal_step_duration")
                .description("Wall time of global steps, as the coordinator saw them")
                .register(registry);
        tokens = Counter.builder("shoal_tokens").description("Tokens trained").register(registry);
        for (Phase p : Phase.values()) {
            if (p == Phase.UNRECOGNIZED) continue;
            AtomicLong on = new AtomicLong();
            phase.put(p, on);
            Gauge.builder("shoal_phase", on, AtomicLong::get)
                    .description("1 for the job's current phase, 0 for the others")
                    .tag("phase", p.name().toLowerCase(java.util.Locale.ROOT))
                    .register(registry);
        }
        Gauge.builder("shoal_mesh_epoch", meshEpoch, AtomicLong::get)
                .description("Epoch of the current mesh")
                .register(registry);
        recoveries = Counter.builder("shoal_recoveries")
                .description("Recoveries from a lost worker or communicator")
                .register(registry);
        recoveryTime = Timer.builder("shoal_recovery_duration")
                .description("Time spent in RECOVERING, from detecting the lost mesh to the re-formed one")
                .register(registry);
        rescales = Counter.builder("shoal_rescales")
                .description("Rescales (RESCALING: a Scale request or auto-grow)")
                .register(registry);
        rescaleTime = Timer.builder("shoal_rescale_duration")
                .description("Time spent rescaling, request to the new mesh formed")
                .register(registry);
        Gauge.builder("shoal_checkpoint_step", lastCheckpointStep, AtomicLong::get)
                .description("Step of the newest committed checkpoint")
                .register(registry);
        checkpointBytes = DistributionSummary.builder("shoal_checkpoint_size")
                .baseUnit("bytes")
                .description("Size of committed checkpoints")
                .register(registry);
        workerStep = Timer.builder("shoal_worker_step_duration")
                .description("Compute time of this node's workers per step")
                .register(registry);
        checkpointSave = Timer.builder("shoal_checkpoint_save_duration")
                .description("Time this node's workers took to make their checkpoint shards durable")
                .register(registry);
    }

    private void gauge(String name, AtomicDouble v, String description) {
        Gauge.builder(name, v, AtomicDouble::get).description(description).register(registry);
    }

    /** Applies one event of the coordinator's watch stream. */
    public void onEvent(JobEvent e) {
        switch (e.getEventCase()) {
            case STEP -> onStep(e.getStep());
            case PHASE -> onPhase(e.getPhase());
            case CHECKPOINT -> onCheckpoint(e.getCheckpoint());
            default -> {}
        }
    }

    void onStep(StepMetrics m) {
        step.set(m.getStep());
        loss.set(m.getLoss());
        gradNorm.set(m.getGradNorm());
        lr.set(m.getLr());
        tokensPerSecond.set(m.getTokensPerSecond());
        mfu.set(m.getMfu());
        if (m.getStepSeconds() > 0) stepTime.record(Duration.ofNanos((long) (m.getStepSeconds() * 1e9)));
        if (m.getTokens() > 0) tokens.increment(m.getTokens());
        for (SourceLoss s : m.getValidationList()) {
            validation
                    .computeIfAbsent(s.getSource(), src -> {
                        AtomicDouble v = new AtomicDouble();
                        Gauge.builder("shoal_validation_loss", v, AtomicDouble::get)
                                .description("Loss on the source's held-out set at the last evaluation")
                                .tag("source", src)
                                .register(registry);
                        return v;
                    })
                    .set(s.getLoss());
        }
    }

    void onPhase(PhaseChange c) {
        for (var entry : phase.entrySet()) entry.getValue().set(entry.getKey() == c.getTo() ? 1 : 0);
        meshEpoch.set(c.getMeshEpoch());
        if (c.getTo() == Phase.RECOVERING) recoveries.increment();
        if (c.getFrom() == Phase.RECOVERING && c.getSeconds() > 0) {
            recoveryTime.record(Duration.ofNanos((long) (c.getSeconds() * 1e9)));
        }
        if (c.getTo() == Phase.RESCALING) rescales.increment();
        if (c.getFrom() == Phase.RESCALING && c.getSeconds() > 0) {
            rescaleTime.record(Duration.ofNanos((long) (c.getSeconds() * 1e9)));
        }
    }

    void onCheckpoint(CheckpointInfo c) {
        lastCheckpointStep.set(c.getStep());
        if (c.getBytes() > 0) checkpointBytes.record(c.getBytes());
    }

    /** A worker of this node finished its part of a step. */
    public void workerStep(double seconds) {
        workerStep.record(Duration.ofNanos((long) (seconds * 1e9)));
    }

    /** A worker of this node made its checkpoint shard durable. */
    public void checkpointSaved(double seconds) {
        checkpointSave.record(Duration.ofNanos((long) (seconds * 1e9)));
    }

    /** A communicator of this node failed; kind is CommException's kind (timeout, aborted, peer, ...). */
    public void commError(String kind) {
        commErrors
                .computeIfAbsent(kind, k -> Counter.builder("shoal_comm_errors")
                        .description("Communicator failures on this node")
                        .tag("kind", k)
                        .register(registry))
                .increment();
    }

    /** Reports the bytes in use and in total on one GPU, read at every scrape (see GpuMemory). */
    public void gpuMemory(int device, DoubleSupplier usedBytes, DoubleSupplier totalBytes) {
        Gauge.builder("shoal_gpu_memory_used", usedBytes, DoubleSupplier::getAsDouble)
                .baseUnit("bytes")
                .description("GPU memory in use on the device (cudaMemGetInfo total - free)")
                .tag("device", Integer.toString(device))
                .register(registry);
        Gauge.builder("shoal_gpu_memory_total", totalBytes, DoubleSupplier::getAsDouble)
                .baseUnit("bytes")
                .description("GPU memory of the device")
                .tag("device", Integer.toString(device))
                .register(registry);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }

    /** A double that gauges can read while another thread sets it. */
    static final class AtomicDouble {
        private final AtomicLong bits = new AtomicLong(Double.doubleToLongBits(0.0));

        void set(double v) {
            bits.set(Double.doubleToLongBits(v));
        }

        double get() {
            return Double.longBitsToDouble(bits.get());
        }
    }
}
