// The element-wise pool: covers every index exactly once, propagates failures, reduces deterministically.
package dev.shoal.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyIndexOnceOnManyThreads() {
        try (Parallel par = new Parallel(3)) {
            int n = 100_003;
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            par.forRange(n, 1, (s, e) -> {
                for (long i = s; i < e; i++) {
                    hits.incrementAndGet((int) i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, hits.get(i), "index " + i);
            }
        }
    }

    @Test
    void failureInAWorkerReachesTheCaller() {
        try (Parallel par = new Parallel(2)) {
            IllegalStateException e = assertThrows(
                    IllegalStateException.class,
                    () -> par.forRange(10, 1, (s, e2) -> {
                        if (s > 0) {
                            throw new IllegalStateException("boom at " + s);
                        }
                    }));
            assertEquals("boom at 5", e.getMessage());
        }
    }

    @Test
    void reductionIsBitIdenticalAcrossThreadCounts() {
        int n = 200_000;
        Parallel.RangeSum body = (s, e) -> {
            double acc = 0;
            for (long i = s; i < e; i++) {
                acc += Math.sin(i) * 1e-3;
            }
            return acc;
        };
        double one, three;
        try (Parallel p1 = new Parallel(1);
                Parallel p3 = new Parallel(3)) {
            one = p1.sumChunks(n, body);
            three = p3.sumChunks(n, body);
        }
        assertEquals(Double.doubleToLongBits(one), Double.doubleToLongBits(three));
        assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
    }
}
