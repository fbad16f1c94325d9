// TEST DOUBLE — not a training engine. A StepRunner for control-plane tests: the loss of step s is
// 1/s, each step consumes 1000 tokens, every evalEvery-th step reports held-out losses en 2/s and
// zh 3/s, a step can be made slow, held (Factory.hold) or made to fail, and every call is
// recorded so tests can check what each rank was asked to do. Child JVMs of the multi-process test
// find it through META-INF/services in src/test/resources; -Dshoal.test.step-millis slows steps.
package dev.shoal.actors.worker;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

public final class TestStepRunner implements StepRunner {

    /** What a runner was asked to do, in order: "join e r s path" and "step e s". */
    public final List<String> calls = new CopyOnWriteArrayList<>();

    /** What each step was asked besides training: "s eval=true ckpt=/dir" (steps with either only). */
    public final List<String> orders = new CopyOnWriteArrayList<>();

    /** The rendezvous tables joinMesh received, in order. */
    public final List<Rendezvous> rendezvous = new CopyOnWriteArrayList<>();

    /** Batches offered by a DataLoader, in arrival order. */
    public final List<StepRunner.Batch> batches = new CopyOnWriteArrayList<>();

    /** Names of the threads that ran joinMesh and runStep. */
    public final List<String> threads = new CopyOnWriteArrayList<>();

    private final long stepMillis;
    private final long failAtStep;
    private final long evalEvery;
    private final boolean writesShards;
    private volatile long abortedEpoch = -1;
    private volatile String injectedFailure; // non-null: every step from now on fails with it
    private java.util.function.BooleanSupplier held = () -> false; // true: steps wait (still abortable)

    public TestStepRunner(long stepMillis, long failAtStep) {
        this(stepMillis, failAtStep, 0, false);
    }

    /**
     * evalEvery: every evalEvery-th step reports held-out losses on its own; writesShards: a checkpoint
     * request is answered as a durable 100-byte shard (no file is written).
     */
    public TestStepRunner(long stepMillis, long failAtStep, long evalEvery, boolean writesShards) {
        this.stepMillis = stepMillis;
        this.failAtStep = failAtStep;
        this.evalEvery = evalEvery;
        this.writesShards = writesShards;
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir) throws Exception {
        StepResult r = runStep(epoch, step);
        if (!evaluate && checkpointDir.isEmpty()) return r;
        orders.add(step + " eval=" + evaluate + " ckpt=" + checkpointDir);
        java.util.Map<String, Double> val = !evaluate
                ? java.util.Map.of()
                : r.validation().isEmpty() ? java.util.Map.of("en", 2.0 / step) : r.validation();
        boolean shard = writesShards && !checkpointDir.isEmpty();
        return new StepResult(
                r.loss(), r.tokens(), val, 0.5, 1e-3, shard ? checkpointDir + "/step-" + step : "", shard ? 100 : 0);
    }

    @Override
    public void offerBatch(StepRunner.Batch batch) {
        batches.add(batch);
    }

    /** Publishes one entry, "test/rank<R>" → "R@epoch", as a backend would publish its endpoint. */
    @Override
    public java.util.Map<String, byte[]> prepareMesh(MeshAssignment mesh) {
        return java.util.Map.of(
                "test/rank" + mesh.rank(),
                (mesh.rank() + "@" + mesh.epoch()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public void joinMesh(MeshAssignment mesh, Rendezvous table) {
        rendezvous.add(table);
        joinMesh(mesh);
    }

    @Override
    public void joinMesh(MeshAssignment mesh) {
        threads.add(Thread.currentThread().getName());
        calls.add("join " + mesh.epoch() + " " + mesh.rank() + " " + mesh.startStep() + " " + mesh.checkpointPath());
    }

    @Override
    public StepResult runStep(long epoch, long step) throws Exception {
        threads.add(Thread.currentThread().getName());
        calls.add("step " + epoch + " " + step);
        long until = System.nanoTime() + stepMillis * 1_000_000L;
        while (System.nanoTime() < until || held.getAsBoolean()) {
            if (abortedEpoch == epoch) throw new IllegalStateException("mesh " + epoch + " aborted");
            Thread.sleep(Math.max(1, Math.min(5, stepMillis)));
        }
        if (step == failAtStep) throw new IllegalStateException("injected failure at step " + step);
        String failure = injectedFailure;
        if (failure != null) throw new IllegalStateException(failure + " at step " + step);
        if (evalEvery > 0 && step % evalEvery == 0) {
            // In source order, as the engine reports them (Map.of would have no order).
            java.util.Map<String, Double> val = new java.util.LinkedHashMap<>();
            val.put("en", 2.0 / step);
            val.put("zh", 3.0 / step);
            return new StepResult(1.0 / step, 1000, val);
        }
        return new StepResult(1.0 / step, 1000);
    }

    /** From now on every step fails with {@code why} (null: steps succeed again). */
    public void failSteps(String why) {
        injectedFailure = why;
    }

    @Override
    public void abortMesh(long epoch) {
        calls.add("abort " + epoch);
        abortedEpoch = epoch;
    }

    @Override
    public void close() {}

    /** Makes TestStepRunners and keeps them by worker id. */
    public static final class Factory implements StepRunner.Factory {
        public final java.util.Map<String, TestStepRunner> runners = new java.util.concurrent.ConcurrentHashMap<>();
        private final long stepMillis;
        private final long failAtStep;
        private final long evalEvery;
        private final boolean writesShards;

        private volatile boolean held;

        /** While held, every step of every runner of this factory waits (abortable); release with false. */
        public void hold(boolean hold) {
            held = hold;
        }

        /** For ServiceLoader: step time from -Dshoal.test.step-millis, never fails. */
        public Factory() {
            this(Long.getLong("shoal.test.step-millis", 0), -1);
        }

        public Factory(long stepMillis, long failAtStep) {
            this(stepMillis, failAtStep, 0, false);
        }

        public Factory(long stepMillis, long failAtStep, long evalEvery) {
            this(stepMillis, failAtStep, evalEvery, false);
        }

        public Factory(long stepMillis, long failAtStep, boolean writesShards) {
            this(stepMillis, failAtStep, 0, writesShards);
        }

        public Factory(long stepMillis, long failAtStep, long evalEvery, boolean writesShards) {
            this.stepMillis = stepMillis;
            this.failAtStep = failAtStep;
            this.evalEvery = evalEvery;
            this.writesShards = writesShards;
        }

        @Override
        public StepRunner create(WorkerInfo device) {
            return runners.computeIfAbsent(device.id(), id -> {
                TestStepRunner r = new TestStepRunner(stepMillis, failAtStep, evalEvery, writesShards);
                r.held = () -> held;
                return r;
            });
        }
    }
}
