// The worker-side compute that a GpuWorker drives: the training engine of one rank, seen from the
// actors. The engine (runtime/) implements it; the actors never touch tensors.
//
// Threading contract: joinMesh, runStep and close are called on the worker's own compute thread,
// one at a time, never on a Pekko dispatcher. abortMesh is called from another thread while
// joinMesh or runStep may be blocked in a collective; it must make them return (or throw) promptly.
package dev.shoal.actors.worker;

public interface StepRunner extends AutoCloseable {

    /** Builds this rank's communicators and loads its shard for {@code mesh}; replaces any earlier mesh. */
    void joinMesh(MeshAssignment mesh) throws Exception;

    /** Runs global step {@code step} of mesh {@code epoch} on this rank (forward, backward, update). */
    StepResult runStep(long epoch, long step) throws Exception;

    /** Aborts the communicators of mesh {@code epoch} (the mesh is gone); safe from any thread. */
    void abortMesh(long epoch);

    @Override
    void close();

    /**
     * Makes the runner of one device. Found with {@link java.util.ServiceLoader} when a node starts;
     * the training engine registers its factory in META-INF/services. A node without a factory
     * still joins and registers its devices, but answers JoinMesh with an error that says so.
     */
    interface Factory {
        StepRunner create(WorkerInfo device) throws Exception;
    }
}
