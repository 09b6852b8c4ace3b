package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.optim.Sgd;
import dev.sam4j.parallel.Collective;
import dev.sam4j.parallel.Ranks;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One data-parallel step on two ranks whose losses differ, {@code L_r(w) = ½·wᵀA_r·w − b_rᵀw} (gradient
 * {@code A_r·w − b_r}), against the formulas computed by hand in double: local perturbation (each rank along its own
 * gradient, the statistic the mean of the local {@code ‖g_r‖²}, one gradient all-reduce a step) and global (the
 * averaged gradient, two all-reduces a SAM step).
 */
class DataParallelStepTest {
    static final double[][][] A = {
            {{3.0, 0.5, 0.0}, {0.5, 2.0, -0.3}, {0.0, -0.3, 1.0}},
            {{1.0, -0.2, 0.4}, {-0.2, 4.0, 0.1}, {0.4, 0.1, 2.5}}};
    static final double[][] B = {{0.3, -1.0, 0.5}, {-0.7, 0.2, 1.1}};
    static final double[] W0 = {1.0, -0.5, 2.0};
    static final double LR = 0.1, MU = 0.9, WD = 5e-4, RHO = 0.05;

    static double[] grad(int r, double[] w) {
        double[] g = new double[3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) g[i] += A[r][i][j] * w[j];
            g[i] -= B[r][i];
        }
        return g;
    }

    static double loss(int r, double[] w) {
        double l = 0;
        double[] aw = new double[3];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) aw[i] += A[r][i][j] * w[j];
        for (int i = 0; i < 3; i++) l += 0.5 * w[i] * aw[i] - B[r][i] * w[i];
        return l;
    }

    static double sq(double[] v) { double s = 0; for (double x : v) s += x * x; return s; }

    /** Counts the buffer all-reduces (the gradient all-reduces) a rank makes. */
    static final class Counting implements Collective {
        final Collective c;
        int bufferReduces;
        Counting(Collective c) { this.c = c; }
        @Override public int rank() { return c.rank(); }
        @Override public int worldSize() { return c.worldSize(); }
        @Override public void allReduce(Backend backend, Buffer x, long n, Op op) { bufferReduces++; c.allReduce(backend, x, n, op); }
        @Override public void allReduce(double[] values, Op op) { c.allReduce(values, op); }
        @Override public void broadcast(Backend backend, Buffer x, long n, int root) { c.broadcast(backend, x, n, root); }
        @Override public void barrier() { c.barrier(); }
        @Override public void abort(Throwable cause) { c.abort(cause); }
        @Override public void close() { c.close(); }
    }

    record Out(double[] w, SamOptimizer.StepResult result, int bufferReduces) {}

    /** One step of {@code method} on each of two ranks; {@code global}: the averaged closure, else local perturbation. */
    static List<Out> step(String method, boolean global) {
        return Ranks.run(2, (rank, member) -> {
            Counting c = new Counting(member);
            try (Backend b = new ReferenceBackend()) {
                ParamLayout.Builder lb = new ParamLayout.Builder();
                lb.add("w", Shape.of(3), Role.WEIGHT);
                ParamLayout layout = lb.build();
                Buffer w = b.allocate(3), g = b.allocate(3);
                b.write(W0, w);
                GradientClosure q = mode -> {
                    double[] wv = b.read(w);
                    b.write(grad(rank, wv), g);
                    return loss(rank, wv);
                };
                SamOptimizer opt = new SamOptimizer(b, layout, w, g, new Sgd(b, 3, MU, WD, false),
                        Method.of(method, Method.Hyper.defaults().toBuilder().rho(RHO).build()), 1);
                GradientClosure closure = global ? new AveragedClosure(q, c, b, g, 3) : q;
                if (!global) opt.perturbLocally(c);
                SamOptimizer.StepResult r = opt.step(closure, 0, 10, LR);
                return new Out(b.read(w), r, c.bufferReduces);
            }
        });
    }

    static void assertSameOnBothRanks(List<Out> out) {
        for (int i = 0; i < 3; i++) {
            assertEquals(Double.doubleToRawLongBits(out.get(0).w()[i]), Double.doubleToRawLongBits(out.get(1).w()[i]), "w[" + i + "] differs between ranks");
        }
        assertEquals(Double.doubleToRawLongBits(out.get(0).result().s()), Double.doubleToRawLongBits(out.get(1).result().s()));
        assertEquals(out.get(0).result().sam(), out.get(1).result().sam());
    }

    static void assertClose(double[] expected, double[] got, String what) {
        for (int i = 0; i < 3; i++) {
            assertEquals(expected[i], got[i], 1e-6 * Math.max(1, Math.abs(expected[i])), what + "[" + i + "]");
        }
    }

    /** First SGD step from zero momentum with the averaged gradient {@code gbar}: {@code w − lr·(gbar + wd·w)}. */
    static double[] update(double[] gbar) {
        double[] out = new double[3];
        for (int i = 0; i < 3; i++) out[i] = W0[i] - LR * (gbar[i] + WD * W0[i]);
        return out;
    }

    @Test
    void localSamStepMatchesHandComputation() {
        List<Out> out = step("sam", false);
        assertSameOnBothRanks(out);
        double[] gbarSam = new double[3];
        double sMean = 0, lossMean = 0;
        for (int r = 0; r < 2; r++) {
            double[] g = grad(r, W0);
            sMean += sq(g) / 2;
            lossMean += loss(r, W0) / 2;
            double n = Math.sqrt(sq(g));
            double[] wp = new double[3];
            for (int i = 0; i < 3; i++) wp[i] = W0[i] + RHO * g[i] / (n + 1e-12);   // this rank's own gradient and norm
            double[] gs = grad(r, wp);
            for (int i = 0; i < 3; i++) gbarSam[i] += gs[i] / 2;
        }
        assertTrue(out.get(0).result().sam());
        assertEquals(sMean, out.get(0).result().s(), 1e-9 * sMean, "s is the mean of the local ||g_r||^2");
        assertEquals(lossMean, out.get(0).result().loss(), 1e-12);
        assertClose(update(gbarSam), out.get(0).w(), "w after a local SAM step");
        for (Out o : out) assertEquals(1, o.bufferReduces(), "a local SAM step costs one gradient all-reduce");
        // and it is not the global step: the perturbations differ
        assertFalse(Math.abs(step("sam", true).get(0).w()[0] - out.get(0).w()[0]) < 1e-9);
    }

    @Test
    void localErmStepAveragesTheGradientOnce() {
        List<Out> out = step("erm", false);
        assertSameOnBothRanks(out);
        double[] gbar = new double[3];
        for (int r = 0; r < 2; r++) {
            double[] g = grad(r, W0);
            for (int i = 0; i < 3; i++) gbar[i] += g[i] / 2;
        }
        assertFalse(out.get(0).result().sam());
        assertClose(update(gbar), out.get(0).w(), "w after a local ERM step");
        for (Out o : out) assertEquals(1, o.bufferReduces(), "an ERM step costs one gradient all-reduce");
    }

    @Test
    void globalSamStepIsTheSingleRankMethodOnTheAveragedGradient() {
        List<Out> out = step("sam", true);
        assertSameOnBothRanks(out);
        double[] gbar = new double[3];
        for (int r = 0; r < 2; r++) {
            double[] g = grad(r, W0);
            for (int i = 0; i < 3; i++) gbar[i] += g[i] / 2;
        }
        double n = Math.sqrt(sq(gbar));
        double[] wp = new double[3];
        for (int i = 0; i < 3; i++) wp[i] = W0[i] + RHO * gbar[i] / (n + 1e-12);
        double[] gbarSam = new double[3];
        for (int r = 0; r < 2; r++) {
            double[] gs = grad(r, wp);
            for (int i = 0; i < 3; i++) gbarSam[i] += gs[i] / 2;
        }
        assertEquals(sq(gbar), out.get(0).result().s(), 1e-6 * sq(gbar), "s is ||mean g||^2");
        assertClose(update(gbarSam), out.get(0).w(), "w after a global SAM step");
        for (Out o : out) assertEquals(2, o.bufferReduces(), "a global SAM step costs two gradient all-reduces");
    }

    @Test
    void localPerturbationRefusesWhatItCannotAverage() {
        try (Backend b = new ReferenceBackend()) {
            ParamLayout.Builder lb = new ParamLayout.Builder();
            lb.add("w", Shape.of(3), Role.WEIGHT);
            ParamLayout layout = lb.build();
            for (String m : List.of("looksam", "aelooksam", "msam")) {
                SamOptimizer opt = new SamOptimizer(b, layout, b.allocate(3), b.allocate(3), new Sgd(b, 3, MU, WD, false),
                        Method.of(m, Method.Hyper.defaults()), 1);
                assertThrows(IllegalArgumentException.class, () -> opt.perturbLocally(dev.sam4j.parallel.SingleRank.INSTANCE), m);
            }
        }
    }
}
