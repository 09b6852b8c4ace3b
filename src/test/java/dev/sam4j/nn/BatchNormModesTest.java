package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What each {@link Mode} does to BatchNorm's output and running statistics. */
class BatchNormModesTest {
    static final int C = 3, H = 2, W = 3, N = 4, HW = H * W;
    static final double MOMENTUM = 0.25, EPS = 1e-3;

    ReferenceBackend be;
    BatchNorm2d bn;
    ParamLayout pl, sl;
    Buffer params, state, x;
    double[] xs, gamma, beta, mean0, var0;

    @BeforeEach
    void setUp() {
        be = new ReferenceBackend();
        bn = new BatchNorm2d(C, MOMENTUM, EPS);
        ParamLayout.Builder pb = new ParamLayout.Builder(), sb = new ParamLayout.Builder();
        assertEquals(Shape.of(C, H, W), bn.declare("bn", Shape.of(C, H, W), pb, sb));
        pl = pb.build();
        sl = sb.build();
        params = be.allocate(pl.total());
        state = be.allocate(sl.total());
        bn.bind(new Context(be, pl, params, be.allocate(pl.total()), sl, state), N);
        SplittableRandom r = new SplittableRandom(3);
        gamma = new double[C]; beta = new double[C]; mean0 = new double[C]; var0 = new double[C];
        for (int c = 0; c < C; c++) {
            gamma[c] = 0.5 + r.nextDouble();
            beta[c] = r.nextDouble(-1, 1);
            mean0[c] = r.nextDouble(-1, 1);
            var0[c] = 0.5 + r.nextDouble();
        }
        be.write(gamma, params.slice(pl.get("bn.weight").offset(), C));
        be.write(beta, params.slice(pl.get("bn.bias").offset(), C));
        be.write(mean0, state.slice(sl.get("bn.running_mean").offset(), C));
        be.write(var0, state.slice(sl.get("bn.running_var").offset(), C));
        xs = new double[N * C * HW];
        for (int i = 0; i < xs.length; i++) xs[i] = r.nextDouble(-2, 3);
        x = be.allocate(xs.length);
        be.write(xs, x);
    }

    @Test
    void namesAndRolesArePyTorchs() {
        assertEquals(dev.sam4j.tensor.Role.BN_SCALE, pl.get("bn.weight").role());
        assertEquals(dev.sam4j.tensor.Role.BN_SHIFT, pl.get("bn.bias").role());
        assertEquals(dev.sam4j.tensor.Role.RUNNING_MEAN, sl.get("bn.running_mean").role());
        assertEquals(dev.sam4j.tensor.Role.RUNNING_VAR, sl.get("bn.running_var").role());
        assertEquals(2 * C, pl.total());
        assertEquals(2 * C, sl.total());
    }

    /** Batch mean and biased variance of channel c. */
    double[] stats(int c) {
        double s = 0, m = N * HW;
        for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) s += xs[(n * C + c) * HW + i];
        double mean = s / m, v = 0;
        for (int n = 0; n < N; n++) for (int i = 0; i < HW; i++) v += Math.pow(xs[(n * C + c) * HW + i] - mean, 2);
        return new double[] {mean, v / m};
    }

    @Test
    void trainNormalisesWithBatchStatisticsAndUpdatesRunningOnes() {
        double[] y = be.read(bn.forward(x, N, Mode.TRAIN));
        double[] st = be.read(state);
        for (int c = 0; c < C; c++) {
            double[] ms = stats(c);
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) {
                    int at = (n * C + c) * HW + i;
                    assertEquals(gamma[c] * (xs[at] - ms[0]) / Math.sqrt(ms[1] + EPS) + beta[c], y[at], 1e-12);
                }
            double unbiased = ms[1] * (N * HW) / (N * HW - 1.0);
            assertEquals((1 - MOMENTUM) * mean0[c] + MOMENTUM * ms[0], st[(int) sl.get("bn.running_mean").offset() + c], 1e-12);
            assertEquals((1 - MOMENTUM) * var0[c] + MOMENTUM * unbiased, st[(int) sl.get("bn.running_var").offset() + c], 1e-12);
        }
    }

    @Test
    void frozenStatsGivesTrainsOutputAndLeavesRunningStatisticsBitIdentical() {
        double[] before = be.read(state);
        double[] frozen = be.read(bn.forward(x, N, Mode.TRAIN_FROZEN_STATS));
        assertArrayEquals(before, be.read(state), 0.0);
        double[] train = be.read(bn.forward(x, N, Mode.TRAIN));
        assertArrayEquals(train, frozen, 0.0);
        assertFalse(java.util.Arrays.equals(before, be.read(state)), "TRAIN must move the running statistics");
    }

    @Test
    void evalUsesRunningStatisticsAndLeavesThemAlone() {
        double[] before = be.read(state);
        double[] y = be.read(bn.forward(x, N, Mode.EVAL));
        assertArrayEquals(before, be.read(state), 0.0);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < HW; i++) {
                    int at = (n * C + c) * HW + i;
                    assertEquals(gamma[c] * (xs[at] - mean0[c]) / Math.sqrt(var0[c] + EPS) + beta[c], y[at], 1e-12);
                }
    }

    @Test
    void repeatedTrainStepsConvergeToTheDataStatistics() {
        for (int i = 0; i < 200; i++) bn.forward(x, N, Mode.TRAIN);
        double[] st = be.read(state);
        for (int c = 0; c < C; c++) {
            double[] ms = stats(c);
            assertEquals(ms[0], st[(int) sl.get("bn.running_mean").offset() + c], 1e-12);
            assertEquals(ms[1] * (N * HW) / (N * HW - 1.0), st[(int) sl.get("bn.running_var").offset() + c], 1e-12);
        }
    }

    @Test
    void rejectsWrongChannelCount() {
        BatchNorm2d other = new BatchNorm2d(4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> other.declare("x", Shape.of(3, 2, 2), new ParamLayout.Builder(), new ParamLayout.Builder()));
        assertTrue(e.getMessage().contains("[4, H, W]"), e.getMessage());
    }
}
