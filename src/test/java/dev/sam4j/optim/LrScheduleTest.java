package dev.sam4j.optim;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void cosineStartsAtBaseAndReachesZeroAtTheEnd() {
        LrSchedule s = LrSchedule.parse("cosine", 0.1, 0, 100);
        assertEquals(0.1, s.lr(0, 100), 1e-15);
        assertEquals(0.05, s.lr(50, 100), 1e-12);
        assertEquals(0.0, s.lr(100, 100), 1e-15);
        assertTrue(s.lr(99, 100) > 0);
    }

    @Test
    void stepDecaysByGammaEveryInterval() {
        LrSchedule s = LrSchedule.parse("step:10:0.5", 1.0, 0, 100);
        assertEquals(1.0, s.lr(9, 100));
        assertEquals(0.5, s.lr(10, 100));
        assertEquals(0.25, s.lr(25, 100));
    }

    @Test
    void warmupRampsLinearlyThenFollowsTheSchedule() {
        LrSchedule s = LrSchedule.parse("constant", 0.2, 4, 100);
        assertEquals(0.05, s.lr(0, 100), 1e-15);
        assertEquals(0.1, s.lr(1, 100), 1e-15);
        assertEquals(0.2, s.lr(3, 100), 1e-15);
        assertEquals(0.2, s.lr(4, 100), 1e-15);
    }

    @Test
    void badSpecsNameTheProblem() {
        var e = assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("linear", 0.1, 0, 10));
        assertTrue(e.getMessage().contains("unknown schedule 'linear'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("step:x:0.1", 0.1, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("step:10:1.5", 0.1, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("constant", -1, 0, 10));
    }
}
