// One simulator scenario, read from HOCON (shoal simulate --scenario FILE): the model and GPU the cost
// model prices, the simulated cluster (nodes × gpus-per-node), the layout, the batch and the steps,
// and how many ActorSystems in this JVM host the simulated nodes.
//
// File form: `scenarios = [ { name = …, model = llama3-70b, gpu = h100, nodes = 128, gpus-per-node = 8,
// layout { tp = 8, pp = 8, dp = 16, micro-batch = 1 }, seq-len = 8192, global-batch = 1024, steps = 20,
// actor-systems = 2, events = [form-mesh, run-steps] } ]` (actor-systems defaults to 2, 1 for one node).
// Only the events form-mesh and run-steps exist: the coordinator has no node-loss recovery yet, so no other event is
// accepted.
// Guarantees: every size is >= 1, tp × pp × dp = nodes × gpus-per-node, the model and GPU are known
// presets, the batch divides into micro-batches; any problem throws naming the file and field.
package dev.shoal.actors.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
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
        int actorSystems) {

    public static final Set<String> EVENTS = Set.of("form-mesh", "run-steps");

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
        if ((long) tp * pp * dp != (long) nodes * gpusPerNode) {
            throw new IllegalArgumentException(at + "tp " + tp + " × pp " + pp + " × dp " + dp + " = " + tp * pp * dp
                    + " ≠ nodes " + nodes + " × gpus-per-node " + gpusPerNode + " = " + nodes * gpusPerNode);
        }
        if (globalBatch % ((long) microBatch * dp) != 0) {
            throw new IllegalArgumentException(at + "global-batch " + globalBatch + " is not a multiple of micro-batch "
                    + microBatch + " × dp " + dp);
        }
        if (actorSystems > nodes) {
            throw new IllegalArgumentException(
                    at + "actor-systems " + actorSystems + " > nodes " + nodes + " (a system with no node)");
        }
        try {
            LlamaConfig.preset(model);
            GpuSpec.preset(gpu);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(at + e.getMessage(), e);
        }
    }

    public int world() {
        return nodes * gpusPerNode;
    }

    /** The job the simulator submits: no data sources, so the coordinator starts no DataLoader. */
    public JobSpec jobSpec() {
        return JobSpec.newBuilder()
                .setName("sim-" + name)
                .setModel(model)
                .setSeqLen(seqLen)
                .setGlobalBatch(globalBatch)
                .setMicroBatch(microBatch)
                .setSteps(steps)
                .setSeed(1)
                .setParallelism(Parallelism.newBuilder().setTp(tp).setPp(pp).setDp(dp))
                .build();
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
                for (String e : c.hasPath("events") ? c.getStringList("events") : List.<String>of()) {
                    if (!EVENTS.contains(e)) {
                        throw new IllegalArgumentException("event '" + e + "' is not supported (known: form-mesh,"
                                + " run-steps; node loss needs the coordinator's RECOVERING phase)");
                    }
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
                        c.hasPath("actor-systems") ? c.getInt("actor-systems") : Math.min(2, c.getInt("nodes"))));
            } catch (ConfigException | IllegalArgumentException e) {
                throw new IllegalArgumentException(at + ": " + e.getMessage(), e);
            }
        }
        return out;
    }
}
