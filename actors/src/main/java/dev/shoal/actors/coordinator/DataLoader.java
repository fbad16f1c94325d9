// DataLoader: one per DP replica of a mesh, a child of the coordinator. It builds each step's
// micro-batches of its replica with the mixture sampler and sends them, tagged with the mesh epoch,
// to the replica's first pipeline stage (input ids) and last stage (target ids), keeping `prefetch`
// steps ahead of the last completed step.
//
// Guarantees: the rows of global step s are the sampler's rows of step s − 1 (the engine counts steps
// from 0, the coordinator from 1): a pure function of (seed, step, data spec), whatever the DP size
// (invariant 1); replica d gets rows [d·B/dp, (d+1)·B/dp) in micro-batch order; no step beyond the
// job's last is sent; a step is sent once per mesh; an Advance of another epoch is ignored. A loader
// that cannot open the data tells the coordinator (LoaderFailed) and stops.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.engine.JobSpecs;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.runtime.data.BatchLayout;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.train.JobConfig;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

public final class DataLoader {
    private DataLoader() {}

    public sealed interface Command {}

    /** Step {@code completedStep} of mesh {@code epoch} is done everywhere: feed further ahead. */
    public record Advance(long epoch, long completedStep) implements Command {}

    /** Steps a loader keeps sent ahead of the last completed one (shoal.loader.prefetch-steps). */
    static int prefetch(ActorContext<?> ctx) {
        var c = ctx.getSystem().settings().config();
        int k = c.hasPath("shoal.loader.prefetch-steps") ? c.getInt("shoal.loader.prefetch-steps") : 2;
        if (k < 1) throw new IllegalArgumentException("shoal.loader.prefetch-steps must be >= 1, got " + k);
        return k;
    }

    /** One loader per DP replica of the mesh whose ranks (rank order) are {@code ranks}. */
    static List<ActorRef<Command>> spawnAll(
            ActorContext<Coordinator.Command> ctx,
            JobSpec spec,
            long epoch,
            List<ActorRef<GpuWorker.Command>> ranks,
            long startStep) {
        var par = spec.getParallelism();
        ParallelDims dims = new ParallelDims(par.getTp(), par.getPp(), par.getDp(), ranks.size());
        int k = prefetch(ctx);
        List<ActorRef<Command>> loaders = new ArrayList<>();
        for (int d = 0; d < dims.dp(); d++) {
            List<ActorRef<GpuWorker.Command>> first = new ArrayList<>(), last = new ArrayList<>();
            for (int r = 0; r < ranks.size(); r++) {
                ParallelDims.Coord c = dims.coord(r);
                if (c.dp() != d) continue;
                if (c.pp() == 0) first.add(ranks.get(r));
                if (c.pp() == dims.pp() - 1) last.add(ranks.get(r));
            }
            loaders.add(ctx.spawn(
                    create(spec, epoch, d, first, last, startStep, k, ctx.getSelf()),
                    "loader-e" + epoch + "-dp" + d,
                    DispatcherSelector.blocking()));
        }
        return loaders;
    }

    static Behavior<Command> create(
            JobSpec spec,
            long epoch,
            int replica,
            List<ActorRef<GpuWorker.Command>> firstStage,
            List<ActorRef<GpuWorker.Command>> lastStage,
            long startStep,
            int prefetch,
            ActorRef<Coordinator.Command> coordinator) {
        return Behaviors.setup(ctx -> {
            MixtureSampler sampler;
            BatchLayout layout;
            try {
                JobConfig job = JobSpecs.toJobConfig(spec, 1);
                sampler = MixtureSampler.fromPrepared(job.data().dir(), job.mixtureSpec(), true);
                layout = sampler.layout(spec.getParallelism().getDp());
            } catch (Exception e) {
                coordinator.tell(new Coordinator.LoaderFailed(epoch, replica, String.valueOf(e.getMessage())));
                return Behaviors.stopped();
            }
            Feeder f = new Feeder(sampler, layout, spec, epoch, replica, firstStage, lastStage, startStep, prefetch);
            ctx.getLog().debug("loader of replica {} (epoch {}) starts at step {}", replica, epoch, startStep);
            f.feedUpTo(startStep - 1);
            return Behaviors.receive(Command.class)
                    .onMessage(Advance.class, a -> {
                        if (a.epoch() == epoch) f.feedUpTo(a.completedStep());
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** Sends the batches of the steps up to completed + prefetch that were not sent yet. */
    private static final class Feeder {
        final MixtureSampler sampler;
        final BatchLayout layout;
        final JobSpec spec;
        final long epoch;
        final int replica;
        final List<ActorRef<GpuWorker.Command>> first, last;
        final int prefetch;
        long nextStep;

        Feeder(
                MixtureSampler sampler,
                BatchLayout layout,
                JobSpec spec,
                long epoch,
                int replica,
                List<ActorRef<GpuWorker.Command>> first,
                List<ActorRef<GpuWorker.Command>> last,
                long startStep,
                int prefetch) {
            this.sampler = sampler;
            this.layout = layout;
            this.spec = spec;
            this.epoch = epoch;
            this.replica = replica;
            this.first = first;
            this.last = last;
            this.prefetch = prefetch;
            this.nextStep = startStep;
        }

        void feedUpTo(long completed) {
            long until = Math.min(spec.getSteps(), completed + prefetch);
            for (; nextStep <= until; nextStep++) send(nextStep);
        }

        private void send(long step) {
            int t = spec.getSeqLen(), rows = layout.globalBatch() / layout.dpSize();
            MixtureSampler.Batch b = sampler.rows(step - 1, layout.firstRow(replica, 0), rows, false);
            IntBuffer ids = b.tokens();
            int[] inputs = new int[rows * t], targets = new int[rows * t];
            for (int r = 0; r < rows; r++) {
                int base = r * (t + 1);
                for (int p = 0; p < t; p++) {
                    inputs[r * t + p] = ids.get(base + p);
                    targets[r * t + p] = ids.get(base + p + 1);
                }
            }
            for (ActorRef<GpuWorker.Command> w : first) {
                boolean both = last.contains(w);
                w.tell(new GpuWorker.FeedBatch(
                        new StepRunner.Batch(epoch, step, replica, inputs, both ? targets : new int[0])));
            }
            for (ActorRef<GpuWorker.Command> w : last) {
                if (first.contains(w)) continue;
                w.tell(new GpuWorker.FeedBatch(new StepRunner.Batch(epoch, step, replica, new int[0], targets)));
            }
        }
    }
}
