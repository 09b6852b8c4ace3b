package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.models.Models;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

class ModelTest {
    final ReferenceBackend be = new ReferenceBackend();

    // ---- initialisation ----

    @Test
    void initialisationIsSeededAndDeterministic() {
        Shape in = Shape.of(2, 8, 8);
        float[] a = Models.build("cnn", in, 3, be, 2, 42).downloadParams();
        float[] b = Models.build("cnn", in, 3, be, 2, 42).downloadParams();
        float[] c = Models.build("cnn", in, 3, be, 2, 43).downloadParams();
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        try (Model m = Models.build("cnn", in, 3, be, 2, 42)) {
            m.uploadParams(c);
            m.initialize(42);
            assertArrayEquals(a, m.downloadParams(), "initialize(seed) reproduces the constructor's values");
        }
    }

    @Test
    void rolesGetTheirInitialValues() {
        Layer net = Models.resnet(Shape.of(3, 8, 8), 4, new int[] {4, 8}, new int[] {1, 1});
        try (Model m = new Model(net, Shape.of(3, 8, 8), 4, be, 2, 1)) {
            float[] p = m.downloadParams(), s = m.downloadState();
            for (ParamSpec spec : m.paramLayout().specs()) {
                float[] v = Arrays.copyOfRange(p, (int) spec.offset(), (int) spec.end());
                switch (spec.role()) {
                    case BIAS, BN_SHIFT -> assertTrue(allEqual(v, 0f), spec.name());
                    case BN_SCALE -> assertTrue(allEqual(v, 1f), spec.name());
                    case WEIGHT -> assertFalse(allEqual(v, 0f), spec.name());
                    default -> fail(spec.name());
                }
            }
            for (ParamSpec spec : m.stateLayout().specs()) {
                float[] v = Arrays.copyOfRange(s, (int) spec.offset(), (int) spec.end());
                assertTrue(allEqual(v, spec.role() == Role.RUNNING_VAR ? 1f : 0f), spec.name());
            }
            assertTrue(allEqual(m.downloadGrads(), 0f));
        }
    }

    static boolean allEqual(float[] v, float x) {
        for (float f : v) if (f != x) return false;
        return true;
    }

    @Test
    void kaimingStandardDeviationForLargeLayers() {
        // Linear 1000 → 500: 500,000 weights, std sqrt(2/1000); the sample std's relative error is ≈ 1/sqrt(2N) = 0.1%.
        try (Model m = new Model(new Linear(1000, 500), Shape.of(1000), 500, be, 1, 7)) {
            checkNormal(m.downloadParams(), 0, 500_000, Math.sqrt(2.0 / 1000));
        }
        // Conv 64 → 128, 3×3: fan_in = 64·9 = 576, 73,728 weights (relative error of the std ≈ 0.26%).
        Layer conv = Sequential.of(new Conv2d(64, 128, 3, 1, 1, false), new GlobalAvgPool());
        try (Model m = new Model(conv, Shape.of(64, 3, 3), 128, be, 1, 8)) {
            checkNormal(m.downloadParams(), 0, 128 * 64 * 9, Math.sqrt(2.0 / 576));
        }
    }

    static void checkNormal(float[] v, int from, int n, double std) {
        double s = 0, s2 = 0;
        for (int i = from; i < from + n; i++) { s += v[i]; s2 += (double) v[i] * v[i]; }
        double mean = s / n, sampleStd = Math.sqrt(s2 / n - mean * mean);
        assertEquals(0, mean, 5 * std / Math.sqrt(n), "mean");
        assertEquals(1, sampleStd / std, 5 / Math.sqrt(2.0 * n), "std / expected std");
    }

    // ---- forward / backward contract ----

    @Test
    void everyTrainableTensorGetsItsGradientWrittenEveryBackward() {
        for (String name : new String[] {"mlp", "cnn"}) checkGradsFullyWritten(Models.create(name, Shape.of(2, 8, 8), 3), Shape.of(2, 8, 8));
        checkGradsFullyWritten(Models.resnet(Shape.of(3, 8, 8), 3, new int[] {4, 8}, new int[] {1, 1}), Shape.of(3, 8, 8));
        checkGradsFullyWritten(Models.wideResNet(Shape.of(3, 8, 8), 3, 10, 1), Shape.of(3, 8, 8));
    }

    void checkGradsFullyWritten(Layer net, Shape in) {
        int n = 2;
        try (Model m = new Model(net, in, 3, be, n, 5)) {
            Inputs io = Inputs.random(be, in, 3, n, 6);
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 3, n);
            for (int step = 0; step < 2; step++) {
                be.fill(m.grads(), Float.NaN, m.paramCount());
                loss.forwardBackward(m.forward(io.x, n, Mode.TRAIN), io.labels, n);
                m.backward(loss.dLogits(), n);
                double[] g = be.read(m.grads());
                for (ParamSpec s : m.paramLayout().specs()) {
                    for (long i = s.offset(); i < s.end(); i++) assertFalse(Double.isNaN(g[(int) i]), s.name() + " not written");
                }
            }
        }
    }

    @Test
    void batchSizeIsValidatedWithAClearMessage() {
        try (Model m = Models.build("mlp", Shape.of(1, 4, 4), 3, be, 4, 1)) {
            Buffer x = be.allocate(5 * 16);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(x, 5, Mode.TRAIN));
            assertTrue(e.getMessage().contains("maxBatch=4"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, 0, Mode.TRAIN));
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class, () -> m.forward(be.allocate(10), 1, Mode.TRAIN));
            assertTrue(small.getMessage().contains("needs 16"), small.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.uploadParams(new float[3]));
        }
    }

    @Test
    void outputMustBeTheClassLogits() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Model(new Linear(4, 3), Shape.of(4), 5, be, 1, 1));
        assertTrue(e.getMessage().contains("expected [5]"), e.getMessage());
    }

    @Test
    void evalOutputsDoNotDependOnTheBatch() {
        Shape in = Shape.of(2, 8, 8);
        try (Model m = Models.build("cnn", in, 3, be, 3, 9)) {
            Inputs io = Inputs.random(be, in, 3, 3, 10);
            m.forward(io.x, 3, Mode.TRAIN);                           // move the running statistics off 0 / 1
            double[] all = be.read(m.forward(io.x, 3, Mode.EVAL));
            double[] last = be.read(m.forward(io.x.slice(2 * in.size(), in.size()), 1, Mode.EVAL));
            assertArrayEquals(Arrays.copyOfRange(all, 6, 9), last, 1e-12);
        }
    }

    @Test
    void closedModelRefusesWork() {
        Model m = Models.build("mlp", Shape.of(4), 2, be, 1, 1);
        m.close();
        assertThrows(IllegalStateException.class, () -> m.forward(be.allocate(4), 1, Mode.EVAL));
        m.close(); // idempotent
    }

    @Test
    void describeAndSizes() {
        try (Model m = Models.build("mlp", Shape.of(1, 4, 4), 3, be, 2, 1)) {
            assertEquals((16 * 512 + 512) + (512 * 512 + 512) + (512 * 3 + 3), m.paramCount());
            assertEquals(0, m.stateLayout().total());
            assertEquals(Shape.of(1, 4, 4), m.inputShape());
            assertEquals(3, m.classes());
            assertEquals(2, m.maxBatch());
            assertTrue(m.describe().startsWith("272,899 parameters in 6 tensors, 0 state floats"), m.describe());
        }
    }

    // ---- whole models against central differences ----

    @Test
    void tinyCnnGradientMatchesFiniteDifferences() {
        Shape in = Shape.of(2, 8, 8);
        checkModelGradient(new Model(Models.create("cnn", in, 3), in, 3, be, 4, 11), 4, 300);
    }

    @Test
    void tinyResNetGradientMatchesFiniteDifferences() {
        Shape in = Shape.of(3, 6, 6);
        Layer net = Models.resnet(in, 3, new int[] {4, 6}, new int[] {1, 1});   // one identity and one 1×1-conv shortcut block
        checkModelGradient(new Model(net, in, 3, be, 3, 12), 3, 300);
    }

    @Test
    void tinyWideResNetGradientMatchesFiniteDifferences() {
        // 8×8 so that the last group still normalises over 2·2·2 values: BatchNorm over only two values
        // is so curved that central differences lose digits.
        Shape in = Shape.of(3, 8, 8);
        checkModelGradient(new Model(Models.wideResNet(in, 3, 10, 1), in, 3, be, 2, 13), 2, 150);
    }

    @Test
    void mlpGradientMatchesFiniteDifferences() {
        Shape in = Shape.of(1, 3, 3);
        checkModelGradient(new Model(Models.mlp(in, 3, 6, 2), in, 3, be, 3, 14), 3, 200);
    }

    /**
     * Gradient of the mean cross-entropy with respect to the parameter arena at {@code samples} coordinates:
     * every tensor's first and last element plus random ones. Differences use TRAIN_FROZEN_STATS, the same
     * function as TRAIN without moving the running statistics.
     */
    void checkModelGradient(Model m, int n, int samples) {
        try (m) {
            Inputs io = Inputs.random(be, m.inputShape(), m.classes(), n, 20);
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, m.classes(), n);
            loss.forwardBackward(m.forward(io.x, n, Mode.TRAIN), io.labels, n);
            m.backward(loss.dLogits(), n);
            double[] g = be.read(m.grads());
            DoubleSupplier meanLoss = () -> {
                loss.forward(m.forward(io.x, n, Mode.TRAIN_FROZEN_STATS), io.labels, n);
                double[] l = be.read(loss.lossPerExample());
                double s = 0;
                for (int i = 0; i < n; i++) s += l[i];
                return s / n;
            };
            TreeSet<Long> coords = new TreeSet<>();
            for (ParamSpec s : m.paramLayout().specs()) { coords.add(s.offset()); coords.add(s.end() - 1); }
            SplittableRandom r = new SplittableRandom(21);
            while (coords.size() < Math.min(samples, m.paramCount())) coords.add(r.nextLong(m.paramCount()));
            for (ParamSpec s : m.paramLayout().specs()) {
                double scale = 0;
                for (long i = s.offset(); i < s.end(); i++) scale = Math.max(scale, Math.abs(g[(int) i]));
                for (long i : coords.subSet(s.offset(), s.end())) {
                    double num = GradCheck.centralDifference(m.params(), i, meanLoss);
                    double e = GradCheck.relativeError(g[(int) i], num, scale);
                    final long at = i;
                    assertTrue(e < GradCheck.TOLERANCE, () -> s.name() + "[" + (at - s.offset()) + "]: analytic "
                            + g[(int) at] + " numeric " + num + " (rel. error " + e + ")");
                }
            }
        }
    }

    /** Random inputs in (−1, 1) and random labels. */
    record Inputs(Buffer x, Buffer labels) {
        static Inputs random(ReferenceBackend be, Shape in, int classes, int n, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            double[] x = new double[(int) (n * in.size())];
            for (int i = 0; i < x.length; i++) x[i] = r.nextDouble(-1, 1);
            double[] y = new double[n];
            for (int i = 0; i < n; i++) y[i] = r.nextInt(classes);
            Buffer xb = be.allocate(x.length), yb = be.allocate(n);
            be.write(x, xb);
            be.write(y, yb);
            return new Inputs(xb, yb);
        }
    }
}
