// A simulated device: a StepRunner that allocates no tensors and moves no data, so the REAL control
// plane (Coordinator, NodeAgents, GpuWorkers) can be driven at thousands of ranks in one JVM.
// joinMesh records the mesh and prices one step with the planner's cost model (runtime/plan:
// CostModel over GpuSpec and LlamaConfig, collectives from the ring model in Collectives); runStep
// advances this rank's SIMULATED clock by that many seconds without sleeping, and returns a loss from
// a fixed decreasing curve, the same on every rank.
//
// Guarantees: runStep never blocks or sleeps (wall time is the actors' own); the loss is a pure
// function of the step; every step this rank ran is recorded once as (epoch, step, sequences of its
// replica) for protocol checks; a step of another epoch than the joined mesh throws.
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

    /** One step this rank ran: mesh epoch, step, rank, its (tp, pp, dp) place and its replica's sequences. */
    public record Ran(long epoch, long step, int rank, ParallelDims.Coord coord, boolean lastStage, long sequences) {}

    private final WorkerInfo device;
    private final GpuSpec gpu;
    private final int gpusPerNode;
    private final List<Long> joinedEpochs = new ArrayList<>(); // every mesh joined, in order
    private final List<Ran> ran = new ArrayList<>(); // every step run, in order
    private volatile MeshAssignment mesh; // null: in no mesh
    private volatile long abortedEpoch = 0;
    private double stepSeconds; // simulated seconds of one step of the joined mesh
    private double simulatedSeconds; // this rank's simulated clock
    private volatile long lastJoinNanos; // System.nanoTime() when joinMesh last returned

    SimStepRunner(WorkerInfo device, GpuSpec gpu, int gpusPerNode) {
        this.device = device;
        this.gpu = gpu;
        this.gpusPerNode = gpusPerNode;
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

    @Override
    public synchronized void joinMesh(MeshAssignment m) {
        stepSeconds = estimate(m.spec(), gpu, gpusPerNode).stepSeconds();
        mesh = m;
        joinedEpochs.add(m.epoch());
        lastJoinNanos = System.nanoTime();
    }

    @Override
    public synchronized StepResult runStep(long epoch, long step) {
        MeshAssignment m = mesh;
        if (m == null || m.epoch() != epoch || abortedEpoch >= epoch) {
            throw new IllegalStateException(device.id() + ": step " + step + " of mesh epoch " + epoch + " but joined "
                    + (m == null ? "none" : m.epoch()));
        }
        ParallelDims.Coord c = m.dims().coord(m.rank());
        JobSpec spec = m.spec();
        long sequences = spec.getGlobalBatch() / m.dims().dp();
        ran.add(new Ran(epoch, step, m.rank(), c, c.pp() == m.dims().pp() - 1, sequences));
        simulatedSeconds += stepSeconds;
        return new StepResult(loss(step), sequences * spec.getSeqLen());
    }

    @Override
    public void abortMesh(long epoch) {
        abortedEpoch = Math.max(abortedEpoch, epoch);
    }

    @Override
    public void close() {}

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
        private final Map<String, SimStepRunner> made = new ConcurrentHashMap<>();

        public Factory() {
            this(ConfigFactory.load());
        }

        private Factory(Config c) {
            this(GpuSpec.preset(c.getString("shoal.sim.gpu")), Math.max(1, SimDevices.perNode(c)));
        }

        public Factory(GpuSpec gpu, int gpusPerNode) {
            if (gpusPerNode < 1) throw new IllegalArgumentException("gpus per node " + gpusPerNode + " < 1");
            this.gpu = gpu;
            this.gpusPerNode = gpusPerNode;
        }

        @Override
        public boolean explicitOnly() {
            return true;
        }

        @Override
        public StepRunner create(WorkerInfo device) {
            SimStepRunner r = new SimStepRunner(device, gpu, gpusPerNode);
            made.put(device.id(), r);
            return r;
        }

        /** Every runner made so far, by device id. */
        public Map<String, SimStepRunner> runners() {
            return Map.copyOf(made);
        }
    }
}
