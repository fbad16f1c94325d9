// TEST DOUBLE around the real engine: every call goes to EngineStepRunner unchanged, but a step first
// waits while the file named by -Dshoal.test.hold-file exists, and takes at least
// -Dshoal.test.min-step-millis. Multi-process tests use it to act between steps (request a rescale,
// add a node) without racing a tiny model that trains faster than a JVM starts. The losses, the
// checkpoints and the collectives are the engine's own. Named with shoal.node.engine only.
package dev.shoal.actors.engine;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import java.nio.file.Files;
import java.nio.file.Path;

public final class PacedEngineStepRunner implements StepRunner {

    private final StepRunner engine;
    private final Path holdFile;
    private final long minStepMillis;
    private volatile long abortedEpoch = -1;

    PacedEngineStepRunner(StepRunner engine, Path holdFile, long minStepMillis) {
        this.engine = engine;
        this.holdFile = holdFile;
        this.minStepMillis = minStepMillis;
    }

    @Override
    public String backendAddress() {
        return engine.backendAddress();
    }

    @Override
    public void joinMesh(MeshAssignment mesh) throws Exception {
        engine.joinMesh(mesh);
    }

    @Override
    public java.util.Map<String, byte[]> prepareMesh(MeshAssignment mesh) throws Exception {
        return engine.prepareMesh(mesh);
    }

    @Override
    public void joinMesh(MeshAssignment mesh, dev.shoal.actors.worker.Rendezvous rendezvous) throws Exception {
        engine.joinMesh(mesh, rendezvous);
    }

    @Override
    public StepResult runStep(long epoch, long step) throws Exception {
        return runStep(epoch, step, false, "");
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir) throws Exception {
        return runStep(epoch, step, evaluate, checkpointDir, false);
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir, boolean commitNow)
            throws Exception {
        long until = System.nanoTime() + minStepMillis * 1_000_000L;
        while (holdFile != null && Files.exists(holdFile) && abortedEpoch != epoch) Thread.sleep(10);
        StepResult r = engine.runStep(epoch, step, evaluate, checkpointDir, commitNow);
        long left = until - System.nanoTime();
        if (left > 0) Thread.sleep(left / 1_000_000L);
        return r;
    }

    @Override
    public void offerBatch(Batch batch) {
        engine.offerBatch(batch);
    }

    @Override
    public void abortMesh(long epoch) {
        abortedEpoch = epoch;
        engine.abortMesh(epoch);
    }

    @Override
    public void close() {
        engine.close();
    }

    /** The engine's factory, paced by -Dshoal.test.hold-file and -Dshoal.test.min-step-millis. */
    public static final class Factory implements StepRunner.Factory {
        @Override
        public StepRunner create(WorkerInfo device) throws Exception {
            String hold = System.getProperty("shoal.test.hold-file", "");
            return new PacedEngineStepRunner(
                    new EngineStepRunner.Factory().create(device),
                    hold.isEmpty() ? null : Path.of(hold),
                    Long.getLong("shoal.test.min-step-millis", 0));
        }

        @Override
        public boolean explicitOnly() {
            return true;
        }
    }
}
