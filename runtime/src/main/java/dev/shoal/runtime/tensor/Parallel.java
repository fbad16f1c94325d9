// A small fixed thread pool for the element-wise loops of the CPU engine.
// Guarantees: forRange splits [0, n) into contiguous chunks, runs one on the calling thread and the
// rest on the pool, and returns only when all are done (rethrowing the first failure). sumChunks
// splits by a fixed grain that does not depend on the thread count, and adds the chunk sums in index
// order, so reductions give the same bits on 1 thread and on many.
package dev.shoal.runtime.tensor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

public final class Parallel implements AutoCloseable {
    /** Work on the half-open range [start, end). */
    @FunctionalInterface
    public interface Range {
        void run(long start, long end);
    }

    /** A partial result over [start, end). */
    @FunctionalInterface
    public interface RangeSum {
        double sum(long start, long end);
    }

    /** Ranges shorter than this per thread are not worth a hand-off. */
    private static final long MIN_CHUNK = 2048;

    private final int threads;
    private final ExecutorService pool; // threads - 1 workers; null when serial

    /**
     * True on a thread that is already running a chunk of some forRange (pool workers always): a nested
     * forRange then runs serially on that thread instead of queueing behind itself (no deadlock, no
     * oversubscription).
     */
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> Boolean.FALSE);

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        }
        this.threads = threads;
        if (threads == 1) {
            pool = null;
        } else {
            AtomicInteger id = new AtomicInteger();
            pool = Executors.newFixedThreadPool(threads - 1, r -> {
                Thread t = new Thread(
                        () -> {
                            INSIDE.set(Boolean.TRUE);
                            r.run();
                        },
                        "shoal-cpu-" + id.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
    }

    public static Parallel serial() {
        return new Parallel(1);
    }

    public int threads() {
        return threads;
    }

    /**
     * True when a forRange called now would run every chunk on the calling thread: the pool has one
     * thread, or this thread is already inside a forRange (a pool worker, or the caller's share).
     */
    public boolean runsInline() {
        return pool == null || INSIDE.get();
    }

    /** Runs body over [0, n) in up to threads() chunks; serial when n is small or when nested. */
    public void forRange(long n, Range body) {
        forRange(n, MIN_CHUNK, body);
    }

    /**
     * Runs body over [0, n) in up to threads() contiguous chunks of at least minChunk items (use a
     * small minChunk when each item is heavy, e.g. one attention head).
     */
    public void forRange(long n, long minChunk, Range body) {
        if (n <= 0) {
            return;
        }
        int parts = (int) Math.min(threads, Math.max(1, n / Math.max(1, minChunk)));
        if (parts <= 1 || pool == null || INSIDE.get()) {
            body.run(0, n);
            return;
        }
        Future<?>[] futures = new Future<?>[parts - 1];
        for (int p = 1; p < parts; p++) {
            long s = n * p / parts;
            long e = n * (p + 1) / parts;
            futures[p - 1] = pool.submit(() -> body.run(s, e));
        }
        Throwable failure = null;
        INSIDE.set(Boolean.TRUE);
        try {
            body.run(0, n / parts);
        } catch (Throwable t) {
            failure = t;
        } finally {
            INSIDE.set(Boolean.FALSE);
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException ee) {
                if (failure == null) {
                    failure = ee.getCause();
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                if (failure == null) {
                    failure = ie;
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    /** Grain of {@link #sumChunks}; fixed so a reduction's rounding does not depend on threads(). */
    public static final long SUM_GRAIN = 1 << 14;

    /** Sum of body over fixed chunks of [0, n), added in index order (deterministic across thread counts). */
    public double sumChunks(long n, RangeSum body) {
        if (n <= 0) {
            return 0;
        }
        long chunks = (n + SUM_GRAIN - 1) / SUM_GRAIN;
        if (chunks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("range of " + n + " elements is too long to reduce");
        }
        double[] partial = new double[(int) chunks];
        forRange(chunks, 1, (cs, ce) -> {
            for (long c = cs; c < ce; c++) {
                long s = c * SUM_GRAIN;
                partial[(int) c] = body.sum(s, Math.min(n, s + SUM_GRAIN));
            }
        });
        double total = 0;
        for (double p : partial) {
            total += p;
        }
        return total;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
