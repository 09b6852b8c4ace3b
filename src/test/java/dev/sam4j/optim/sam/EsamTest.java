package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ESAM's two ideas, by their values, on the double-precision reference backend. SWP: each SAM step draws one number
 * per tensor from the seeded stream, in layout order, keeps the tensors whose draw is below β, and perturbs exactly
 * those, by {@code ρ·g/(β·‖g‖)} with the whole-model {@code ‖g‖}. SDS: pass 2 runs on the {@code ⌈γ·B⌉} examples
 * whose loss rose most from {@code w} to {@code w'} (ties to the lower index), measured at {@code w'}.
 */
class EsamTest {
    static final int[] SIZES = {3, 1, 4, 2, 5, 2, 3, 1};
    static final long SEED = 31;

    @ParameterizedTest(name = "beta {0}")
    @CsvSource({"0.5", "0.3", "1.0"})
    void swpPerturbsTheDrawnTensorsByRhoOverBetaTimesTheNorm(double beta) {
        ReferenceBackend be = new ReferenceBackend();
        ParamLayout.Builder lb = new ParamLayout.Builder();
        for (int i = 0; i < SIZES.length; i++) lb.add("t" + i, Shape.of(SIZES[i]), Role.WEIGHT);
        ParamLayout layout = lb.build();
        int n = (int) layout.total();
        Buffer w = be.allocate(n), g = be.allocate(n);
        SplittableRandom r = new SplittableRandom(4);
        double[] w0 = r.doubles(n, -1, 1).toArray();
        be.write(w0, w);
        Method m = Method.of("esam", Method.Hyper.defaults().toBuilder().esamBeta(beta).esamSds(false).build());
        double rho = m.perturbation().rho();
        SamOptimizer opt = new SamOptimizer(be, layout, w, g, new Sgd(be, n, 0.9, 5e-4, false), m, SEED);
        // The optimizer's per-tensor stream, drawn here independently: one number per tensor per SAM step.
        SplittableRandom draws = new SplittableRandom(SEED ^ 0xE5A3L);
        int kept = 0, dropped = 0;
        for (int step = 0; step < 4; step++) {
            double[] gv = r.doubles(n, -0.5, 0.5).toArray(), before = be.read(w);
            double[][] perturbed = new double[1][];
            GradientClosure closure = mode -> {
                if (mode == Mode.TRAIN_FROZEN_STATS) perturbed[0] = be.read(w);
                be.write(gv, g);
                return 1.0;
            };
            SamOptimizer.StepResult res = opt.step(closure, step, 10, 0.1);
            assertTrue(res.sam(), "ESAM always takes the SAM path");
            double s = Arrays.stream(gv).map(x -> x * x).sum();
            double scale = rho / (beta * Math.sqrt(s));
            for (ParamSpec spec : layout.specs()) {
                boolean keep = draws.nextDouble() < beta;
                if (keep) kept++; else dropped++;
                for (int j = (int) spec.offset(); j < spec.end(); j++) {
                    double want = keep ? before[j] + scale * gv[j] : before[j];
                    assertEquals(want, perturbed[0][j], 1e-12 * (1 + Math.abs(want)),
                            "step " + step + ", " + spec.name() + (keep ? " (kept)" : " (dropped)") + ", element " + j);
                }
            }
        }
        assertEquals(4L * SIZES.length, opt.state().esamDraws(), "one draw per tensor per SAM step");
        assertTrue(kept > 0 && (beta == 1.0 ? dropped == 0 : dropped > 0), kept + " kept, " + dropped + " dropped");
    }

    @Test
    void sdsSelectsTheExamplesWhoseLossRoseMost() {
        float[] before = {1, 1, 1, 1, 1}, after = {1.5f, 0.5f, 3f, 1.5f, 2f};  // rises 0.5, −0.5, 2, 0.5, 1
        assertArrayEquals(new int[] {2}, SamOptimizer.topIncrease(before, after, 5, 1));
        assertArrayEquals(new int[] {2, 4}, SamOptimizer.topIncrease(before, after, 5, 2));
        assertArrayEquals(new int[] {0, 2, 4}, SamOptimizer.topIncrease(before, after, 5, 3), "the tie at 0.5 goes to the lower index");
        assertArrayEquals(new int[] {0, 2, 3, 4}, SamOptimizer.topIncrease(before, after, 5, 4));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, SamOptimizer.topIncrease(before, after, 5, 5));
    }

    @ParameterizedTest(name = "gamma {0}, batch {1}")
    @CsvSource({"0.5, 8", "0.4, 8", "0.1, 7", "1.0, 6"})
    void sdsRunsPassTwoOnTheCeilGammaBExamplesWithTheLargestRiseAtThePerturbedWeights(double gamma, int batch) {
        ReferenceBackend be = new ReferenceBackend();
        ParamLayout.Builder lb = new ParamLayout.Builder();
        lb.add("w", Shape.of(4), Role.WEIGHT);
        ParamLayout layout = lb.build();
        Buffer w = be.allocate(4), g = be.allocate(4);
        be.write(new double[] {0.5, -1, 2, 0.25}, w);
        Method m = Method.of("esam", Method.Hyper.defaults().toBuilder().esamGamma(gamma).esamSwp(false).build());
        SamOptimizer opt = new SamOptimizer(be, layout, w, g, new Sgd(be, 4, 0.9, 0, false), m, SEED);
        SplittableRandom r = new SplittableRandom(batch);
        float[] lossAtW = new float[batch], lossAtPerturbed = new float[batch];
        for (int i = 0; i < batch; i++) {
            lossAtW[i] = (float) r.nextDouble();
            lossAtPerturbed[i] = lossAtW[i] + (float) (i % 3 == 0 ? 0.25 : r.nextGaussian());  // ties among i % 3 == 0
        }
        double[] w0 = be.read(w);
        List<int[]> subsets = new ArrayList<>();
        List<double[]> perturbedAt = new ArrayList<>();
        GradientClosure closure = new GradientClosure() {
            @Override public double lossAndGradient(Mode mode) {
                be.write(new double[] {0.1, 0.2, -0.3, 0.4}, g);
                return 1.0;
            }
            @Override public boolean supportsSubsets() { return true; }
            @Override public int batchSize() { return batch; }
            @Override public float[] lastPerExampleLoss() { return lossAtW.clone(); }
            @Override public float[] perExampleLoss(Mode mode) {
                assertEquals(Mode.TRAIN_FROZEN_STATS, mode, "the rise is measured with BatchNorm frozen");
                perturbedAt.add(be.read(w));
                return lossAtPerturbed.clone();
            }
            @Override public double lossAndGradient(Mode mode, int[] subset) {
                assertEquals(Mode.TRAIN_FROZEN_STATS, mode);
                subsets.add(subset.clone());
                be.write(new double[] {0.2, 0.1, -0.1, 0.3}, g);
                return 1.0;
            }
        };
        assertTrue(opt.step(closure, 0, 10, 0.1).sam());
        int keep = (int) Math.ceil(gamma * batch);
        int[] want = IntStream.range(0, batch).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -(lossAtPerturbed[i] - lossAtW[i])).thenComparingInt(i -> i))
                .limit(keep).mapToInt(Integer::intValue).sorted().toArray();
        assertEquals(1, subsets.size());
        assertArrayEquals(want, subsets.get(0), "the selected examples");
        assertEquals(keep, subsets.get(0).length);
        assertTrue(!Arrays.equals(w0, perturbedAt.get(0)), "the per-example losses of pass 2 are taken at w', not w");
    }
}
