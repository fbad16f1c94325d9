// NodeAgent: one per node JVM. Finds the node's devices, spawns one GpuWorker per device (restarted
// if it crashes), registers each with the Receptionist under GpuWorker.SERVICE_KEY — which is how
// the coordinator learns about them — and watches them.
//
// Guarantees: worker names are stable ("worker-cpu0", "worker-cuda3"); a worker that stops for
// good is reported in the log and in ListWorkers' answer (the Receptionist drops it, so the
// coordinator sees it leave).
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

public final class NodeAgent extends AbstractBehavior<NodeAgent.Command> {

    // ------------------------------------------------------------------ protocol (local only)

    public sealed interface Command {}

    public record ListWorkers(ActorRef<Workers> replyTo) implements Command {}

    /** The node's devices and whether each worker is still running. */
    public record Workers(List<WorkerInfo> devices, List<ActorRef<GpuWorker.Command>> refs, List<Boolean> running) {
        public Workers {
            devices = List.copyOf(devices);
            refs = List.copyOf(refs);
            running = List.copyOf(running);
        }
    }

    private record WorkerStopped(WorkerInfo info) implements Command {}

    // ------------------------------------------------------------------ state

    private final Map<WorkerInfo, ActorRef<GpuWorker.Command>> workers = new LinkedHashMap<>();
    private final Map<WorkerInfo, Boolean> running = new LinkedHashMap<>();

    /**
     * @param factory the training engine's runner factory; null when the node has none (it then
     *     registers its devices but refuses to join a mesh)
     */
    public static Behavior<Command> create(
            List<DeviceDiscovery> discoveries, Config config, StepRunner.Factory factory) {
        return create(discoveries, config, factory, null);
    }

    /**
     * As above, with the workers' node named {@code node} instead of the ActorSystem's address: the
     * simulator runs many simulated nodes in one ActorSystem, each an agent with its own name.
     */
    public static Behavior<Command> create(
            List<DeviceDiscovery> discoveries, Config config, StepRunner.Factory factory, String node) {
        return Behaviors.setup(ctx -> new NodeAgent(ctx, discoveries, config, factory, node));
    }

    private NodeAgent(
            ActorContext<Command> ctx,
            List<DeviceDiscovery> discoveries,
            Config config,
            StepRunner.Factory factory,
            String nodeName) {
        super(ctx);
        String node = nodeName != null ? nodeName : ctx.getSystem().address().toString();
        for (DeviceDiscovery d : discoveries) {
            int n = d.count(config);
            for (int i = 0; i < n; i++) {
                WorkerInfo info = new WorkerInfo(node, d.kind(), i);
                ActorRef<GpuWorker.Command> ref = ctx.spawn(
                        Behaviors.supervise(GpuWorker.create(info, factory)).onFailure(SupervisorStrategy.restart()),
                        "worker-" + d.kind() + i);
                ctx.watchWith(ref, new WorkerStopped(info));
                ctx.getSystem().receptionist().tell(Receptionist.register(GpuWorker.SERVICE_KEY, ref));
                workers.put(info, ref);
                running.put(info, true);
            }
        }
        ctx.getLog().info("node {} offers {} device(s)", node, workers.size());
    }

    // ------------------------------------------------------------------ handlers

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ListWorkers.class, this::onList)
                .onMessage(WorkerStopped.class, this::onStopped)
                .build();
    }

    private Behavior<Command> onList(ListWorkers m) {
        m.replyTo()
                .tell(new Workers(
                        new ArrayList<>(workers.keySet()),
                        new ArrayList<>(workers.values()),
                        new ArrayList<>(running.values())));
        return this;
    }

    private Behavior<Command> onStopped(WorkerStopped m) {
        running.put(m.info(), false);
        getContext()
                .getLog()
                .error(
                        "worker {} stopped; its device is out of service",
                        m.info().id());
        return this;
    }
}
