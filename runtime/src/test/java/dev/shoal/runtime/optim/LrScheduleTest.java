// Learning-rate schedules at hand-computed points.
package dev.shoal.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void warmupThenCosine() {
        LrSchedule s = new LrSchedule.WarmupCosine(1e-3, 1e-4, 10, 110);
        assertEquals(1e-4, s.lr(0), 1e-15); // 1e-3 · 1/10
        assertEquals(5e-4, s.lr(4), 1e-15);
        assertEquals(1e-3, s.lr(9), 1e-15);
        assertEquals(1e-3, s.lr(10), 1e-15); // decay starts at p = 0
        assertEquals(8.681980515339464e-4, s.lr(35), 1e-12); // p = 1/4: 1e-4 + 9e-4·(1 + cos(π/4))/2
        assertEquals(5.5e-4, s.lr(60), 1e-12); // p = 1/2
        assertEquals(1e-4, s.lr(110), 1e-15);
        assertEquals(1e-4, s.lr(500), 1e-15);
    }

    @Test
    void warmupThenLinear() {
        LrSchedule s = new LrSchedule.WarmupLinear(1e-3, 1e-4, 10, 110);
        assertEquals(2e-4, s.lr(1), 1e-15);
        assertEquals(7.75e-4, s.lr(35), 1e-12); // 1e-3 − 9e-4/4
        assertEquals(5.5e-4, s.lr(60), 1e-12);
        assertEquals(1e-4, s.lr(110), 1e-15);
    }

    @Test
    void warmupStableDecay() {
        LrSchedule s = new LrSchedule.WarmupStableDecay(1e-3, 0, 10, 100, 20);
        assertEquals(5e-4, s.lr(4), 1e-15);
        assertEquals(1e-3, s.lr(50), 1e-15);
        assertEquals(1e-3, s.lr(80), 1e-15); // decay starts at 100 − 20
        assertEquals(5e-4, s.lr(90), 1e-15);
        assertEquals(0, s.lr(100), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule.WarmupStableDecay(1e-3, 0, 90, 100, 20));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule.WarmupCosine(1e-4, 1e-3, 0, 10));
        assertEquals(0.5, new LrSchedule.Constant(0.5).lr(7));
    }
}
