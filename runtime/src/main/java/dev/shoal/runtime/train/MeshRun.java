// A whole parallel training job in this JVM: tp·pp·dp RankTrainers as threads over a ThreadMesh, each
// running the shared TrainLoop; rank 0 writes the metrics, the progress line and the checkpoints, so the
// outputs read like the single-process Trainer's. Also the body of one rank's JVM in the multi-process
// mode (runRank), which forms its communicators with TcpMesh.
// Guarantees: the layout is checked before any thread starts (JobConfigException naming the value); the
// thread ranks share one TrainData and one copy of the initial weights; when a rank fails, every
// communicator of the mesh is aborted so no rank waits for a collective that will not come, and the
// failure reported is the first one that was not such an abort, naming the rank.
package dev.shoal.runtime.train;

import dev.shoal.comm.CommException;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.ThreadMesh;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/** Stateless. */
public final class MeshRun {
    private MeshRun() {}

    /** How long a collective may wait for a peer before the run fails (a rank stuck in a long step). */
    public static final long COLLECTIVE_TIMEOUT_MS = 30 * 60 * 1000L;

    /** A rank failed at run time (not a config mistake); the message names the rank. */
    public static final class RankFailure extends RuntimeException {
        public RankFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Trains the job with every rank of dims as a thread; returns rank 0's result. log gets one-line notes,
     * progress the progress line (either may be null).
     */
    public static Trainer.Result runThreads(
            JobConfig job,
            ParallelDims dims,
            boolean zero1,
            boolean resume,
            long stopAfter,
            Consumer<String> log,
            PrintStream progress)
            throws IOException {
        LlamaConfig cfg = TrainData.modelConfig(job);
        RankTrainer.checkLayout(job, cfg, dims);
        TrainData data = new TrainData(job, log);
        data.checkVocab(cfg);
        Map<String, Tensor> init = RankTrainer.initialWeights(job, cfg);
        int threads = Math.max(1, job.threads() / dims.world());
        ExecutorService pool = Executors.newFixedThreadPool(dims.world(), r -> {
            Thread t = new Thread(r, "rank");
            t.setDaemon(true);
            return t;
        });
        try (ThreadMesh mesh = new ThreadMesh(dims, 1, COLLECTIVE_TIMEOUT_MS)) {
            List<Future<Trainer.Result>> futures = new ArrayList<>();
            for (int r = 0; r < dims.world(); r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Thread.currentThread().setName("rank-" + rank);
                    boolean lead = rank == 0;
                    RankTrainer.Options o = new RankTrainer.Options(zero1, threads, init, data, lead ? log : null);
                    try (RankTrainer rt = new RankTrainer(job, dims, mesh.comms(rank), o)) {
                        return TrainLoop.run(
                                job, rt.asEngine(), lead, resume, stopAfter, lead ? log : null, lead ? progress : null);
                    } catch (Throwable e) {
                        abortAll(mesh, dims, "rank " + rank + " failed: " + e);
                        throw e;
                    }
                }));
            }
            Trainer.Result lead = null;
            Throwable first = null;
            int firstRank = -1;
            for (int r = 0; r < futures.size(); r++) {
                try {
                    Trainer.Result res = futures.get(r).get();
                    if (r == 0) lead = res;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    // The root cause beats the aborts it caused in the other ranks.
                    if (first == null || (first instanceof CommException && !(c instanceof CommException))) {
                        first = c;
                        firstRank = r;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    abortAll(mesh, dims, "interrupted");
                    throw new RankFailure("interrupted", e);
                }
            }
            if (first != null) {
                throw rethrow(first, firstRank, dims);
            }
            return lead;
        } finally {
            pool.shutdownNow();
            if (init != null) init.values().forEach(Tensor::close);
        }
    }

    /** A rank's failure as the caller should see it: config mistakes as they are, the rest named by rank. */
    static RuntimeException rethrow(Throwable e, int rank, ParallelDims dims) throws IOException {
        if (e instanceof JobConfigException j) return j;
        if (e instanceof IOException io) throw io;
        if (e instanceof Error err) throw err;
        return new RankFailure(
                "rank " + rank + " " + dims.coord(rank) + ": "
                        + (e.getMessage() == null ? e.toString() : e.getMessage()),
                e);
    }

    private static void abortAll(ThreadMesh mesh, ParallelDims dims, String reason) {
        for (int r = 0; r < dims.world(); r++) {
            RankComms c = mesh.comms(r);
            c.tp().abort(reason);
            c.dp().abort(reason);
            c.pp().abort(reason);
        }
    }
}
