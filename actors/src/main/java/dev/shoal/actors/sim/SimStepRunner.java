// A simulated device: a StepRunner that allocates no tensors and moves no data, so the REAL control
// plane (Coordinator, NodeAgents, GpuWorkers) can be driven at thousands of ranks in one JVM.
// joinMesh records the mesh and prices one step with the planner's cost model (runtime/plan:
// CostModel over GpuSpec and LlamaConfig, collectives from the ring model in Collectives); runStep
// advances this rank's SIMULATED clock by that many seconds without sleeping, and returns a loss from
// a fixed decreasing curve, the same on every rank.
//
// Checkpoints are simulated too: a step with a checkpoint directory returns a shard path and size
// (fp32 weights and Adam moments, 12 bytes per parameter, split over the world) and costs its write at
// the scenario's checkpoint-gbps; joining a mesh that resumes from a checkpoint costs its reload.
// Failures come from the run's FailurePlan: a rank of a node it kills hangs in that step until the
// worker aborts the mesh or stops (as a rank whose peer died would), then throws.
//
// Guarantees: runStep never sleeps and only blocks when the FailurePlan killed its node (wall time is
// the actors' own); the loss is a pure function of the step; every step this rank ran is recorded
// once as (epoch, step, rank, replica rows) for protocol checks; a step of another epoch than the
// joined mesh throws.
// Selected with shoal.node.engine = dev.shoal.actors.sim.SimStepRunner$Factory (it is never picked
// implicitly); the GPU priced is shoal.sim.gpu, the node size shoal.sim.devices-per-node.
package dev.shoal.actors.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.plan.Cluster;
import dev.shoal.runtime.plan.CostModel;
import dev.shoal.runtime.plan.GpuSpec;
import dev.shoal.runtime.plan.Layout;
import dev.shoal.runtime.plan.Recompute;
import dev.shoal.runtime.plan.TrainSetup;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

public final class SimStepRunner implements StepRunner {

    /**
     * One step this rank ran: mesh epoch, step, rank, its (tp, pp, dp) place, and its replica's rows of
     * the global batch: [firstRow, firstRow + sequences).
     */
    public record Ran(
            long epoch,
            long step,
            int rank,
            ParallelDims.Coord coord,
            boolean lastStage,
            long firstRow,
            long sequences,
            int dp) {}

    /** The checkpoint directory simulated jobs name; nothing is written there. */
    public static final String CHECKPOINT_DIR = "sim://checkpoints";

    /** Step seconds by (job spec, GPU, GPUs per node): the cost model's answer, shared by all runners. */
    private static final Map<List<Object>, Double> STEP_SECONDS = new ConcurrentHashMap<>();

    private final WorkerInfo device;
    private final GpuSpec gpu;
    private final int gpusPerNode;
    private final FailurePlan plan;
    private final double checkpointBytesPerSecond;
    private final List<Long> joinedEpochs = new ArrayList<>(); // every mesh joined, in order
    private final List<Ran> ran = new ArrayList<>(); // every step run, in order
    private volatile MeshAssignment mesh; // null: in no mesh
    private volatile long abortedEpoch = 0;
    private double stepSeconds; // simulated seconds of one step of the joined mesh
    private long shardBytes; // this rank's checkpoint shard in the joined mesh
    private volatile boolean closed;
    private double simulatedSeconds; // this rank's simulated clock
    private volatile long lastJoinNanos; // System.nanoTime() when joinMesh last returned

    SimStepRunner(WorkerInfo device, GpuSpec gpu, int gpusPerNode, FailurePlan plan, double checkpointGbps) {
        this.device = device;
        this.gpu = gpu;
        this.gpusPerNode = gpusPerNode;
        this.plan = plan;
        this.checkpointBytesPerSecond = checkpointGbps * 1e9;
    }

    /** The simulated seconds of one step of {@code spec} on {@code gpusPerNode}-GPU nodes of {@code gpu}. */
    public static CostModel.StepEstimate estimate(JobSpec spec, GpuSpec gpu, int gpusPerNode) {
        var par = spec.getParallelism();
        int world = par.getTp() * par.getPp() * par.getDp();
        if (world % gpusPerNode != 0 && world > gpusPerNode) {
            throw new IllegalArgumentException(
                    "world " + world + " is not a whole number of " + gpusPerNode + "-GPU nodes");
        }
        int nodes = Math.max(1, world / gpusPerNode);
        int perNode = Math.min(world, gpusPerNode);
        LlamaConfig model = LlamaConfig.preset(spec.getModel());
        CostModel cost = new CostModel(
                new Cluster(nodes, perNode, gpu), TrainSetup.of(model, spec.getGlobalBatch(), spec.getSeqLen()));
        return cost.estimate(
                new Layout(par.getTp(), par.getPp(), par.getDp(), spec.getMicroBatch(), Recompute.SELECTIVE));
    }

    /** The simulated loss of global step {@code step} (1-based): a power law falling towards 1.8. */
    public static double loss(long step) {
        return 1.8 + 9.0 * Math.pow(step, -0.35);
    }

    /** Bytes of one rank's checkpoint shard: fp32 weights + Adam m and v (12 B/parameter) over the world. */
    public static long shardBytes(JobSpec spec, int world) {
        return LlamaConfig.preset(spec.getModel()).paramCount() * 12 / world;
    }

    @Override
    public synchronized void joinMesh(MeshAssignment m) {
        long start = System.nanoTime();
        // Priced once per layout, not once per rank: at 4096 ranks the cost model (~1 ms) would otherwise
        // spend seconds of this JVM's CPU inside the mesh distribution that the simulator measures.
        stepSeconds = STEP_SECONDS.computeIfAbsent(
                List.of(m.spec(), gpu, gpusPerNode),
                k -> estimate(m.spec(), gpu, gpusPerNode).stepSeconds());
        shardBytes = shardBytes(m.spec(), m.dims().world());
        mesh = m;
        joinedEpochs.add(m.epoch());
        lastJoinNanos = System.nanoTime();
        double reload = m.checkpointPath().isEmpty() ? 0 : shardBytes / checkpointBytesPerSecond;
        simulatedSeconds += reload;
        if (plan != null) plan.joined(m.epoch(), device.node(), start, lastJoinNanos, reload);
    }

    @Override
    public StepResult runStep(long epoch, long step) throws InterruptedException {
        return runStep(epoch, step, false, "");
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir)
            throws InterruptedException {
        MeshAssignment m;
        double seconds;
        synchronized (this) {
            m = mesh;
            if (m == null || m.epoch() != epoch || abortedEpoch >= epoch) {
                throw new IllegalStateException(device.id() + ": step " + step + " of mesh epoch " + epoch
                        + " but joined " + (m == null ? "none" : m.epoch()));
            }
            seconds = stepSeconds + (checkpointDir.isEmpty() ? 0 : shardBytes / checkpointBytesPerSecond);
        }
        if (plan != null && plan.step(epoch, step, device.node(), seconds, stepSeconds)) {
            // This node died in this step: hang as a rank whose peers are gone, until aborted or stopped.
            while (abortedEpoch < epoch && !closed) Thread.sleep(2);
            throw new IllegalStateException(device.id() + ": simulated node failure in step " + step);
        }
        synchronized (this) {
            ParallelDims.Coord c = m.dims().coord(m.rank());
            JobSpec spec = m.spec();
            long sequences = spec.getGlobalBatch() / m.dims().dp();
            ran.add(new Ran(
                    epoch,
                    step,
                    m.rank(),
                    c,
                    c.pp() == m.dims().pp() - 1,
                    c.dp() * sequences,
                    sequences,
                    m.dims().dp()));
            simulatedSeconds += seconds;
            String path = checkpointDir.isEmpty() ? "" : checkpointDir + "/step-" + step;
            return new StepResult(
                    loss(step),
                    sequences * spec.getSeqLen(),
                    Map.of(),
                    Double.NaN,
                    Double.NaN,
                    path,
                    path.isEmpty() ? 0 : shardBytes);
        }
    }

    @Override
    public void abortMesh(long epoch) {
        abortedEpoch = Math.max(abortedEpoch, epoch);
    }

    @Override
    public void close() {
        closed = true;
    }

    public WorkerInfo device() {
        return device;
    }

    public synchronized List<Long> joinedEpochs() {
        return List.copyOf(joinedEpochs);
    }

    public synchronized List<Ran> ran() {
        return List.copyOf(ran);
    }

    public synchronized double simulatedSeconds() {
        return simulatedSeconds;
    }

    public long lastJoinNanos() {
        return lastJoinNanos;
    }

    /**
     * Makes simulated runners. The no-argument form (ServiceLoader, shoal.node.engine) reads
     * shoal.sim.gpu and shoal.sim.devices-per-node from the JVM's config; the simulator builds one
     * directly and keeps every runner it made, by device id, to read their clocks and records.
     */
    public static final class Factory implements StepRunner.Factory {
        private final GpuSpec gpu;
        private final int gpusPerNode;
        private final FailurePlan plan;
        private final double checkpointGbps;
        private final Map<String, SimStepRunner> made = new ConcurrentHashMap<>();

        public Factory() {
            this(ConfigFactory.load());
        }

        private Factory(Config c) {
            this(GpuSpec.preset(c.getString("shoal.sim.gpu")), Math.max(1, SimDevices.perNode(c)));
        }

        public Factory(GpuSpec gpu, int gpusPerNode) {
            this(gpu, gpusPerNode, null, 2.0);
        }

        /** Runners that share {@code plan} (null: no failures, no shared clock) and write checkpoints at {@code checkpointGbps}. */
        public Factory(GpuSpec gpu, int gpusPerNode, FailurePlan plan, double checkpointGbps) {
            if (gpusPerNode < 1) throw new IllegalArgumentException("gpus per node " + gpusPerNode + " < 1");
            this.gpu = gpu;
            this.gpusPerNode = gpusPerNode;
            this.plan = plan;
            this.checkpointGbps = checkpointGbps;
        }

        @Override
        public boolean explicitOnly() {
            return true;
        }

        @Override
        public StepRunner create(WorkerInfo device) {
            SimStepRunner r = new SimStepRunner(device, gpu, gpusPerNode, plan, checkpointGbps);
            made.put(device.id(), r);
            return r;
        }

        /** Every runner made so far, by device id. */
        public Map<String, SimStepRunner> runners() {
            return Map.copyOf(made);
        }
    }
}
