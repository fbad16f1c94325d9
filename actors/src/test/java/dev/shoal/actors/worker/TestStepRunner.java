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

    /** Names of the threads that ran joinMesh and runStep. */
    public final List<String> threads = new CopyOnWriteArrayList<>();

    private final long stepMillis;
    private final long failAtStep;
    private final long evalEvery;
    private volatile long abortedEpoch = -1;
    private volatile String injectedFailure; // non-null: every step from now on fails with it
    private java.util.function.BooleanSupplier held = () -> false; // true: steps wait (still abortable)

    public TestStepRunner(long stepMillis, long failAtStep) {
        this(stepMillis, failAtStep, 0);
    }

    public TestStepRunner(long stepMillis, long failAtStep, long evalEvery) {
        this.stepMillis = stepMillis;
        this.failAtStep = failAtStep;
        this.evalEvery = evalEvery;
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
            return new StepResult(1.0 / step, 1000, java.util.Map.of("en", 2.0 / step, "zh", 3.0 / step));
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
            this(stepMillis, failAtStep, 0);
        }

        public Factory(long stepMillis, long failAtStep, long evalEvery) {
            this.stepMillis = stepMillis;
            this.failAtStep = failAtStep;
            this.evalEvery = evalEvery;
        }

        @Override
        public StepRunner create(WorkerInfo device) {
            return runners.computeIfAbsent(device.id(), id -> {
                TestStepRunner r = new TestStepRunner(stepMillis, failAtStep, evalEvery);
                r.held = () -> held;
                return r;
            });
        }
    }
}
