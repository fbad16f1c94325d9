// The worker-side compute that a GpuWorker drives: the training engine of one rank, seen from the
// actors. The engine (dev.shoal.actors.engine over runtime/) implements it; the actors never touch
// tensors.
//
// Joining a mesh has two phases (the rendezvous): prepareMesh returns what this rank's backend
// publishes for the mesh (its TCP endpoint, or the ncclUniqueId of each group it is the root of); the
// coordinator gathers every rank's entries and hands the whole table back, and joinMesh(mesh, table)
// then builds the communicators from it and loads the shard.
//
// Threading contract: prepareMesh, joinMesh, runStep and close are called on the worker's own compute thread,
// one at a time, never on a Pekko dispatcher. abortMesh and offerBatch are called from the actor
// while joinMesh or runStep may be blocked (in a collective, or waiting for a batch); abortMesh must
// make them return (or throw) promptly.
package dev.shoal.actors.worker;

public interface StepRunner extends AutoCloseable {

    /** "host:port" of this device's collective backend, handed to its mesh peers; empty: none. */
    default String backendAddress() {
        return "";
    }

    /**
     * Rendezvous phase 1: what this rank publishes for {@code mesh} (key → bytes, see {@link Rendezvous}
     * for the keys). Default: nothing (engines whose collectives need no rendezvous).
     */
    default java.util.Map<String, byte[]> prepareMesh(MeshAssignment mesh) throws Exception {
        return java.util.Map.of();
    }

    /**
     * Rendezvous phase 2: builds this rank's communicators from the gathered table and loads its shard for
     * {@code mesh}; replaces any earlier mesh. Default: {@link #joinMesh(MeshAssignment)}.
     */
    default void joinMesh(MeshAssignment mesh, Rendezvous rendezvous) throws Exception {
        joinMesh(mesh);
    }

    /** Joins {@code mesh} without a rendezvous table (engines that need none, e.g. test doubles and the simulator). */
    void joinMesh(MeshAssignment mesh) throws Exception;

    /** Runs global step {@code step} of mesh {@code epoch} on this rank (forward, backward, update). */
    StepResult runStep(long epoch, long step) throws Exception;

    /**
     * As {@link #runStep(long, long)}, then scores the held-out sets when {@code evaluate} and starts
     * saving this rank's checkpoint shard under {@code checkpointDir} when it is not empty. The result's
     * checkpointPath names a step folder only once that checkpoint is committed (every rank's shard
     * durable): later steps report it, and the job's last step reports its own before returning.
     */
    default StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir) throws Exception {
        return runStep(epoch, step);
    }

    /**
     * As {@link #runStep(long, long, boolean, String)}; with {@code commitNow} the step also waits until
     * its own checkpoint is committed and reports it (the coordinator asks this at the job's last step and
     * at a rescale boundary, where it cannot go on before the commit is journaled).
     */
    default StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir, boolean commitNow)
            throws Exception {
        return runStep(epoch, step, evaluate, checkpointDir);
    }

    /** One step's micro-batches from this rank's DataLoader (any thread; a stale epoch is dropped). */
    default void offerBatch(Batch batch) {}

    /**
     * Aborts the communicators of mesh {@code epoch} (the mesh is gone), including ones still being
     * formed by a joinMesh that has not returned; safe from any thread.
     */
    void abortMesh(long epoch);

    @Override
    void close();

    /**
     * Rows of one step of one DP replica: inputs for a first-stage rank, targets for a last-stage rank
     * (either may be empty), each [grad_accum · micro_batch · seq_len] ids.
     */
    record Batch(long epoch, long step, int replica, int[] inputs, int[] targets) {
        public Batch {
            if (inputs == null) inputs = new int[0];
            if (targets == null) targets = new int[0];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Batch b
                    && b.epoch == epoch
                    && b.step == step
                    && b.replica == replica
                    && java.util.Arrays.equals(b.inputs, inputs)
                    && java.util.Arrays.equals(b.targets, targets);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(
                    epoch, step, replica, java.util.Arrays.hashCode(inputs), java.util.Arrays.hashCode(targets));
        }

        @Override
        public String toString() {
            return "Batch[epoch " + epoch + ", step " + step + ", replica " + replica + ", " + inputs.length
                    + " inputs, " + targets.length + " targets]";
        }
    }

    /**
     * Makes the runner of one device. Found with {@link java.util.ServiceLoader} when a node starts;
     * the training engine registers its factory in META-INF/services. A node without a factory
     * still joins and registers its devices, but answers JoinMesh with an error that says so.
     */
    interface Factory {
        StepRunner create(WorkerInfo device) throws Exception;

        /** True for an engine used only when shoal.node.engine names it (the simulator), never by default. */
        default boolean explicitOnly() {
            return false;
        }
    }
}
