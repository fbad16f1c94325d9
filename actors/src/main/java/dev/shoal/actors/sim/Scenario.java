// One simulator scenario, read from HOCON (shoal simulate --scenario FILE): the model and GPU the cost
// model prices, the simulated cluster (nodes × gpus-per-node for the mesh, plus spare nodes), the
// layout, the batch, the steps, how many ActorSystems in this JVM host the simulated nodes, and the
// failures and changes to inject (docs/scale.md, "Scenario files", has every field):
//
//   scenarios = [ { name = …, model = llama3-70b, gpu = h100, nodes = 128, gpus-per-node = 8, spare-nodes = 2,
//     layout { tp = 8, pp = 8, dp = 16, micro-batch = 1 }, seq-len = 8192, global-batch = 1024, steps = 20,
//     checkpoint-interval = 5, actor-systems = 4, detection-seconds = 7, checkpoint-gbps = 2, auto-grow = on,
//     events = [ form-mesh, run-steps,
//                { lose-nodes = 1, at-step = 8 },
//                { mtbf { interruptions = 419, days = 54, gpus = 16384 }, acceleration = 2000, seed = 7 },
//                { add-nodes = 64, at-step = 10 },
//                { fail-coordinator-at-step = 12 } ] } ]
//
// Guarantees: every size is >= 1 (spare-nodes and checkpoint-interval >= 0), tp × pp × dp = nodes ×
// gpus-per-node, the model and GPU are known presets, the batch divides into micro-batches, event steps
// lie in 1..steps, a coordinator failover has a system to move to; any problem throws naming the file
// and field.
package dev.shoal.actors.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.plan.GpuSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

public record Scenario(
        String name,
        String model,
        String gpu,
        int nodes,
        int gpusPerNode,
        int tp,
        int pp,
        int dp,
        int microBatch,
        int seqLen,
        int globalBatch,
        int steps,
        int actorSystems,
        int spareNodes,
        int checkpointInterval,
        double detectionSeconds,
        double checkpointGbps,
        List<Event> events,
        boolean autoGrow) {

    /** A scenario without auto-grow (added nodes stay idle unless a rescale is asked for). */
    public Scenario(
            String name,
            String model,
            String gpu,
            int nodes,
            int gpusPerNode,
            int tp,
            int pp,
            int dp,
            int microBatch,
            int seqLen,
            int globalBatch,
            int steps,
            int actorSystems,
            int spareNodes,
            int checkpointInterval,
            double detectionSeconds,
            double checkpointGbps,
            List<Event> events) {
        this(
                name,
                model,
                gpu,
                nodes,
                gpusPerNode,
                tp,
                pp,
                dp,
                microBatch,
                seqLen,
                globalBatch,
                steps,
                actorSystems,
                spareNodes,
                checkpointInterval,
                detectionSeconds,
                checkpointGbps,
                events,
                false);
    }

    /** The events written as plain strings; they are what every scenario does anyway. */
    public static final Set<String> EVENTS = Set.of("form-mesh", "run-steps");

    /** A change the simulator injects during the run. */
    public sealed interface Event {}

    /** {@code nodes} nodes of the mesh (seeded choice) die during the first run of step {@code atStep}. */
    public record LoseNodes(int atStep, int nodes, long seed) implements Event {}

    /**
     * Nodes of the mesh die at random, one per interruption: {@code interruptions} in {@code days} at
     * {@code gpus} GPUs gives a rate per GPU, scaled to the mesh's GPUs and multiplied by {@code
     * acceleration} (1: the reported rate), on the simulated clock; exponential gaps drawn with {@code seed}.
     */
    public record Mtbf(double interruptions, double days, int gpus, double acceleration, long seed) implements Event {
        /** Interruptions per simulated second for a mesh of {@code world} GPUs. */
        public double ratePerSecond(int world) {
            return interruptions / (days * 86_400.0 * gpus) * world * acceleration;
        }
    }

    /** {@code nodes} more nodes start once step {@code atStep} is done. */
    public record AddNodes(int atStep, int nodes) implements Event {}

    /** The coordinator's host goes down (downed, then terminated) once step {@code atStep} is done. */
    public record FailCoordinator(int atStep) implements Event {}

    /** A scenario without spares, checkpoints or events (form the mesh, run the steps). */
    public Scenario(
            String name,
            String model,
            String gpu,
            int nodes,
            int gpusPerNode,
            int tp,
            int pp,
            int dp,
            int microBatch,
            int seqLen,
            int globalBatch,
            int steps,
            int actorSystems) {
        this(
                name,
                model,
                gpu,
                nodes,
                gpusPerNode,
                tp,
                pp,
                dp,
                microBatch,
                seqLen,
                globalBatch,
                steps,
                actorSystems,
                0,
                0,
                7.0,
                2.0,
                List.of());
    }

    public Scenario {
        String at = "scenario '" + name + "': ";
        for (var f : new Object[][] {
            {"nodes", nodes},
            {"gpus-per-node", gpusPerNode},
            {"layout.tp", tp},
            {"layout.pp", pp},
            {"layout.dp", dp},
            {"layout.micro-batch", microBatch},
            {"seq-len", seqLen},
            {"global-batch", globalBatch},
            {"steps", steps},
            {"actor-systems", actorSystems}
        }) {
            if ((int) f[1] < 1) throw new IllegalArgumentException(at + f[0] + " must be >= 1, got " + f[1]);
        }
        if (spareNodes < 0) throw new IllegalArgumentException(at + "spare-nodes must be >= 0, got " + spareNodes);
        if (checkpointInterval < 0) {
            throw new IllegalArgumentException(at + "checkpoint-interval must be >= 0, got " + checkpointInterval);
        }
        if (!(detectionSeconds >= 0)) {
            throw new IllegalArgumentException(at + "detection-seconds must be >= 0, got " + detectionSeconds);
        }
        if (!(checkpointGbps > 0)) {
            throw new IllegalArgumentException(at + "checkpoint-gbps must be > 0, got " + checkpointGbps);
        }
        if ((long) tp * pp * dp != (long) nodes * gpusPerNode) {
            throw new IllegalArgumentException(at + "tp " + tp + " × pp " + pp + " × dp " + dp + " = " + tp * pp * dp
                    + " ≠ nodes " + nodes + " × gpus-per-node " + gpusPerNode + " = " + nodes * gpusPerNode);
        }
        if (globalBatch % ((long) microBatch * dp) != 0) {
            throw new IllegalArgumentException(at + "global-batch " + globalBatch + " is not a multiple of micro-batch "
                    + microBatch + " × dp " + dp);
        }
        events = List.copyOf(events);
        boolean failover = events.stream().anyMatch(e -> e instanceof FailCoordinator);
        // A failover needs a coordinator-only system 0 and a system 1 with simulated nodes to move to.
        int hosts = failover ? actorSystems - 1 : actorSystems;
        if (failover && actorSystems < 2) {
            throw new IllegalArgumentException(at + "fail-coordinator needs actor-systems >= 2 (the coordinator's"
                    + " system and one to move to), got " + actorSystems);
        }
        if (hosts > nodes + spareNodes) {
            throw new IllegalArgumentException(at + "actor-systems " + actorSystems + " > nodes " + (nodes + spareNodes)
                    + (failover ? " + 1" : "") + " (a system with no node)");
        }
        for (Event e : events) {
            int step = e instanceof LoseNodes l
                    ? l.atStep()
                    : e instanceof AddNodes a ? a.atStep() : e instanceof FailCoordinator f ? f.atStep() : 1;
            if (step < 1 || step > steps) {
                throw new IllegalArgumentException(at + "event " + e + ": at-step " + step + " is not in 1.." + steps);
            }
            if (e instanceof LoseNodes l && (l.nodes() < 1 || l.nodes() > nodes)) {
                throw new IllegalArgumentException(at + "lose-nodes " + l.nodes() + " is not in 1.." + nodes);
            }
            if (e instanceof AddNodes a && a.nodes() < 1) {
                throw new IllegalArgumentException(at + "add-nodes " + a.nodes() + " must be >= 1");
            }
            if (e instanceof Mtbf m
                    && (!(m.interruptions() > 0) || !(m.days() > 0) || m.gpus() < 1 || !(m.acceleration() > 0))) {
                throw new IllegalArgumentException(
                        at + "mtbf: interruptions, days, gpus and acceleration must be > 0, got " + m);
            }
        }
        try {
            LlamaConfig.preset(model);
            GpuSpec.preset(gpu);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(at + e.getMessage(), e);
        }
    }

    /** GPUs of the mesh (tp × pp × dp). */
    public int world() {
        return nodes * gpusPerNode;
    }

    /** Nodes started before the job: the mesh's and the spares. */
    public int startNodes() {
        return nodes + spareNodes;
    }

    public boolean failsCoordinator() {
        return events.stream().anyMatch(e -> e instanceof FailCoordinator);
    }

    /** The job the simulator submits: no data sources, so the coordinator starts no DataLoader. */
    public JobSpec jobSpec() {
        JobSpec.Builder b = JobSpec.newBuilder()
                .setName("sim-" + name)
                .setModel(model)
                .setSeqLen(seqLen)
                .setGlobalBatch(globalBatch)
                .setMicroBatch(microBatch)
                .setSteps(steps)
                .setSeed(1)
                .setParallelism(Parallelism.newBuilder().setTp(tp).setPp(pp).setDp(dp));
        // SimStepRunner writes nothing: the directory only names the simulated shards.
        if (checkpointInterval > 0)
            b.setCheckpointDir(SimStepRunner.CHECKPOINT_DIR).setCheckpointInterval(checkpointInterval);
        return b.build();
    }

    /** Every scenario of {@code file}. */
    public static List<Scenario> load(Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("scenario file " + file + " does not exist");
        Config root;
        try {
            root = ConfigFactory.parseFile(file.toFile()).resolve();
        } catch (ConfigException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        if (!root.hasPath("scenarios")) throw new IllegalArgumentException(file + ": no 'scenarios' list");
        List<Scenario> out = new ArrayList<>();
        List<? extends Config> list;
        try {
            list = root.getConfigList("scenarios");
        } catch (ConfigException e) {
            throw new IllegalArgumentException(file + ": scenarios: " + e.getMessage(), e);
        }
        for (int i = 0; i < list.size(); i++) {
            Config c = list.get(i);
            String at = file + ": scenarios[" + i + "]";
            try {
                List<Event> events = new ArrayList<>();
                if (c.hasPath("events")) {
                    List<ConfigValue> vs = c.getList("events");
                    for (int j = 0; j < vs.size(); j++) events.addAll(event(vs.get(j), "events[" + j + "]"));
                }
                out.add(new Scenario(
                        c.hasPath("name") ? c.getString("name") : "scenario-" + i,
                        c.getString("model"),
                        c.hasPath("gpu") ? c.getString("gpu") : "h100",
                        c.getInt("nodes"),
                        c.hasPath("gpus-per-node") ? c.getInt("gpus-per-node") : 8,
                        c.getInt("layout.tp"),
                        c.getInt("layout.pp"),
                        c.getInt("layout.dp"),
                        c.hasPath("layout.micro-batch") ? c.getInt("layout.micro-batch") : 1,
                        c.getInt("seq-len"),
                        c.getInt("global-batch"),
                        c.getInt("steps"),
                        c.hasPath("actor-systems") ? c.getInt("actor-systems") : Math.min(2, c.getInt("nodes")),
                        c.hasPath("spare-nodes") ? c.getInt("spare-nodes") : 0,
                        c.hasPath("checkpoint-interval") ? c.getInt("checkpoint-interval") : 0,
                        c.hasPath("detection-seconds") ? c.getDouble("detection-seconds") : 7.0,
                        c.hasPath("checkpoint-gbps") ? c.getDouble("checkpoint-gbps") : 2.0,
                        events,
                        c.hasPath("auto-grow") && c.getBoolean("auto-grow")));
            } catch (ConfigException | IllegalArgumentException e) {
                throw new IllegalArgumentException(at + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** One entry of `events`: a known string (no event of its own) or an object naming one event. */
    private static List<Event> event(ConfigValue v, String at) {
        if (v.valueType() == ConfigValueType.STRING) {
            String s = (String) v.unwrapped();
            if (!EVENTS.contains(s)) {
                throw new IllegalArgumentException(
                        at + ": event '" + s + "' is not known (strings: form-mesh, run-steps;"
                                + " objects: lose-nodes, mtbf, add-nodes, fail-coordinator-at-step)");
            }
            return List.of();
        }
        if (v.valueType() != ConfigValueType.OBJECT) {
            throw new IllegalArgumentException(at + ": an event is a string or an object, got " + v.valueType());
        }
        Config e = ((ConfigObject) v).toConfig();
        long seed = e.hasPath("seed") ? e.getLong("seed") : 1;
        if (e.hasPath("lose-nodes")) return List.of(new LoseNodes(e.getInt("at-step"), e.getInt("lose-nodes"), seed));
        if (e.hasPath("add-nodes")) return List.of(new AddNodes(e.getInt("at-step"), e.getInt("add-nodes")));
        if (e.hasPath("fail-coordinator-at-step"))
            return List.of(new FailCoordinator(e.getInt("fail-coordinator-at-step")));
        if (e.hasPath("mtbf")) {
            return List.of(new Mtbf(
                    e.getDouble("mtbf.interruptions"),
                    e.getDouble("mtbf.days"),
                    e.getInt("mtbf.gpus"),
                    e.hasPath("acceleration") ? e.getDouble("acceleration") : 1.0,
                    seed));
        }
        throw new IllegalArgumentException(at + ": event " + e.root().keySet()
                + " names none of lose-nodes, mtbf, add-nodes, fail-coordinator-at-step");
    }
}
