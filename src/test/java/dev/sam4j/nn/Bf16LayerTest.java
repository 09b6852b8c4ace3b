package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.nn.models.Models;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bf16 emulation at the layer level: a layer bound for bf16 computes exactly what the same layer computes in
 * fp32 on explicitly rounded inputs and weights, with its output and input gradient rounded to bf16 and its
 * weight gradients left fp32; BatchNorm's scale and shift are read unrounded. And at the model level: the master
 * weights stay fp32, the logits are bf16, and the logits and gradients stay close to fp32's.
 */
class Bf16LayerTest {
    static CpuBackend be;

    @BeforeAll static void open() { be = new CpuBackend(2); }

    @AfterAll static void close() { if (be != null) be.close(); }

    static Stream<Arguments> layers() {
        return Stream.of(
                Arguments.of("Linear", (Supplier<Layer>) () -> new Linear(37, 11), Shape.of(37)),
                Arguments.of("Conv2d", (Supplier<Layer>) () -> new Conv2d(3, 5, 3, 1, 1, true), Shape.of(3, 7, 7)),
                Arguments.of("Conv2d stride 2", (Supplier<Layer>) () -> new Conv2d(4, 6, 3, 2, 1, false), Shape.of(4, 9, 9)),
                Arguments.of("BatchNorm2d", (Supplier<Layer>) () -> new BatchNorm2d(4), Shape.of(4, 5, 5)),
                Arguments.of("MaxPool2d overlapping", (Supplier<Layer>) () -> new MaxPool2d(3, 2, 1), Shape.of(3, 8, 8)),
                Arguments.of("GlobalAvgPool", (Supplier<Layer>) GlobalAvgPool::new, Shape.of(4, 3, 3)));
    }

    /** A layer bound on its own arenas: fp32, or bf16 with a shadow that holds the rounded parameters. */
    static final class Bound {
        final Layer layer;
        final ParamLayout pl;
        final Buffer params, grads, state;

        Bound(Layer layer, Shape in, int n, float[] p, Precision precision) {
            this.layer = layer;
            ParamLayout.Builder pb = new ParamLayout.Builder(), sb = new ParamLayout.Builder();
            layer.declare("t", in, pb, sb);
            pl = pb.build();
            ParamLayout sl = sb.build();
            params = alloc(pl.total());
            grads = alloc(pl.total());
            state = alloc(sl.total());
            be.upload(p, 0, params, p.length);
            Buffer compute = params;
            if (precision == Precision.BF16) {
                compute = alloc(pl.total());
                be.roundTo(Precision.BF16, params, compute, pl.total());
            }
            layer.bind(new Context(be, pl, params, grads, sl, state, null, new ArrayList<>(), precision, compute), n);
        }
    }

    static Buffer alloc(long n) { return be.allocate(Math.max(1, n)); }

    static float[] random(int n, SplittableRandom r) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    static float[] bf16(float[] v) {
        float[] r = v.clone();
        for (int i = 0; i < r.length; i++) r[i] = Precision.BF16.round(r[i]);
        return r;
    }

    static float[] get(Buffer b, long n) {
        float[] out = new float[(int) n];
        be.download(b, out, 0, out.length);
        return out;
    }

    static Buffer put(float[] v) {
        Buffer b = alloc(v.length);
        be.upload(v, 0, b, v.length);
        return b;
    }

    static void allBf16(float[] v, String what) {
        for (int i = 0; i < v.length; i++) {
            assertEquals(0, Float.floatToRawIntBits(v[i]) & 0xFFFF, what + " element " + i + " = " + v[i] + " is not a bf16 value");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layers")
    void bf16LayerIsFp32LayerOnRoundedInputsWithRoundedOutputs(String name, Supplier<Layer> make, Shape in) {
        int n = 3;
        SplittableRandom r = new SplittableRandom(name.hashCode());
        Layer probe = make.get();
        ParamLayout.Builder pb = new ParamLayout.Builder();
        Shape out = probe.declare("t", in, pb, new ParamLayout.Builder());
        ParamLayout pl = pb.build();
        float[] p = random((int) pl.total(), r);
        for (ParamSpec s : pl.specs()) if (s.role() == Role.BN_SCALE) for (long i = s.offset(); i < s.end(); i++) p[(int) i] += 1.5f;
        // What the fp32 layer is given: GEMM/convolution weights rounded, BatchNorm's scale and shift not.
        float[] pRounded = p.clone();
        for (ParamSpec s : pl.specs()) {
            if (s.role() == Role.WEIGHT || s.role() == Role.BIAS) {
                for (long i = s.offset(); i < s.end(); i++) pRounded[(int) i] = Precision.BF16.round(p[(int) i]);
            }
        }
        Bound lo = new Bound(make.get(), in, n, p, Precision.BF16), ref = new Bound(make.get(), in, n, pRounded, Precision.FP32);
        float[] x = bf16(random((int) (n * in.size()), r));
        long outN = n * out.size(), inN = n * in.size();
        float[] yLo = get(lo.layer.forward(put(x), n, Mode.TRAIN), outN);
        float[] yRef = get(ref.layer.forward(put(x), n, Mode.TRAIN), outN);
        allBf16(yLo, name + " output");
        assertArrayEquals(bf16(yRef), yLo, name + ": bf16 output = rounded fp32 output on the rounded inputs");
        float[] dy = bf16(random((int) outN, r));
        float[] dxLo = get(lo.layer.backward(put(dy), n), inN);
        float[] dxRef = get(ref.layer.backward(put(dy), n), inN);
        allBf16(dxLo, name + " input gradient");
        assertArrayEquals(bf16(dxRef), dxLo, name + ": bf16 input gradient = rounded fp32 one");
        if (pl.total() > 0) {
            float[] gLo = get(lo.grads, pl.total()), gRef = get(ref.grads, pl.total());
            // A convolution's weight gradient is rounded to bf16 (cuDNN computes it in the data's type, as PyTorch's
            // autocast does); every other gradient, a convolution's bias gradient included, is fp32's, not rounded.
            if (probe instanceof Conv2d) {
                for (ParamSpec s : pl.specs()) {
                    if (s.role() == Role.WEIGHT) for (long i = s.offset(); i < s.end(); i++) gRef[(int) i] = Precision.BF16.round(gRef[(int) i]);
                }
            }
            assertArrayEquals(gRef, gLo, name + ": weight gradients are the fp32 ones on the same bf16 inputs (a convolution's rounded)");
            assertArrayEquals(p, get(lo.params, pl.total()), name + ": the master weights are never rounded");
        }
    }

    static Model model(String name, Shape in, Backend backend, Precision p) {
        return new Model(Models.create(name, in, 10), in, 10, backend, 8, 7, p);
    }

    /** A whole network: logits in bf16, close to fp32's; gradients close to fp32's; the master weights untouched. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"mlp", "cnn"})
    void modelInBf16StaysCloseToFp32(String name) {
        Shape in = Shape.of(1, 12, 12);
        SplittableRandom r = new SplittableRandom(3);
        float[] x = random(8 * 144, r);
        float[] labels = new float[8];
        for (int i = 0; i < 8; i++) labels[i] = r.nextInt(10);
        float[][] logits = new float[2][], grads = new float[2][];
        Precision[] ps = {Precision.FP32, Precision.BF16};
        for (int k = 0; k < 2; k++) {
            try (Model m = model(name, in, be, ps[k])) {
                assertEquals(ps[k], m.precision());
                float[] before = m.downloadParams();
                Buffer lg = m.forward(put(x), 8, Mode.TRAIN);
                logits[k] = get(lg, 80);
                SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 10, 8);
                loss.forwardBackward(lg, put(labels), 8);
                m.backward(loss.dLogits(), 8);
                grads[k] = m.downloadGrads();
                assertArrayEquals(before, m.downloadParams(), "forward and backward leave the fp32 weights as they were");
                if (k == 1) {
                    allBf16(logits[k], "logits");
                    assertTrue(java.util.stream.IntStream.range(0, before.length)
                            .anyMatch(i -> Float.floatToRawIntBits(before[i]) % 65536 != 0), "master weights are not bf16 values");
                }
            }
        }
        double lnum = 0, lden = 0;
        for (int i = 0; i < 80; i++) { lnum += sq(logits[1][i] - logits[0][i]); lden += sq(logits[0][i]); }
        assertTrue(Math.sqrt(lnum / lden) < 0.02, name + ": logits' relative error " + Math.sqrt(lnum / lden));
        double dot = 0, a = 0, b = 0;
        for (int i = 0; i < grads[0].length; i++) { dot += grads[0][i] * grads[1][i]; a += sq(grads[0][i]); b += sq(grads[1][i]); }
        double cos = dot / Math.sqrt(a * b);
        assertTrue(cos > 0.99, name + ": cosine of the bf16 and fp32 gradients " + cos);
        assertNotEquals(0, Math.abs(a - b), "bf16 does change the gradient (the emulation is not a no-op)");
    }

    static double sq(double v) { return v * v; }

    /**
     * Finite differences at bf16, loosely. The bf16 loss is a step function of the master weights at the bf16
     * spacing (the layers read rounded weights and round every activation), so a central difference with a small
     * step is 0 or a jump, and per-weight checks do not apply. Along the gradient's own direction, with a step that
     * moves the loss by far more than the rounding noise, the directional derivative the backward gives
     * (‖g‖ for the unit direction g/‖g‖) must still match the central difference of the bf16 loss.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"mlp", "cnn"})
    void directionalFiniteDifferenceHoldsLoosely(String name) {
        Shape in = Shape.of(1, 12, 12);
        SplittableRandom r = new SplittableRandom(11);
        Buffer x = put(random(8 * 144, r));
        float[] lab = new float[8];
        for (int i = 0; i < 8; i++) lab[i] = r.nextInt(10);
        Buffer labels = put(lab);
        try (Model m = model(name, in, be, Precision.BF16)) {
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 10, 8);
            // EVAL mode: BatchNorm with fixed statistics, so that the loss is a function of the weights only.
            loss.forwardBackward(m.forward(x, 8, Mode.EVAL), labels, 8);
            m.backward(loss.dLogits(), 8);
            float[] g = m.downloadGrads(), w0 = m.downloadParams();
            double norm = 0;
            for (float v : g) norm += sq(v);
            norm = Math.sqrt(norm);
            double[] results = new double[3];
            double[] steps = {0.02, 0.01, 0.005};
            for (int k = 0; k < steps.length; k++) {
                double h = steps[k];
                double[] lv = new double[2];
                for (int s = 0; s < 2; s++) {
                    float[] w = w0.clone();
                    for (int i = 0; i < w.length; i++) w[i] += (float) ((s == 0 ? h : -h) * g[i] / norm);
                    m.uploadParams(w);
                    lv[s] = loss.forward(m.forward(x, 8, Mode.EVAL), labels, 8);
                }
                results[k] = (lv[0] - lv[1]) / (2 * h);
            }
            m.uploadParams(w0);
            for (double fd : results) assertEquals(norm, fd, 0.1 * norm, name + ": directional derivative");
        }
    }

    @Test
    void fp32AndTf32ContextsRoundNothing() {
        Buffer b = put(new float[] {1f + 0x1p-20f});
        ParamLayout empty = new ParamLayout.Builder().build();
        for (Precision p : new Precision[] {Precision.FP32, Precision.TF32}) {
            Context c = new Context(be, empty, b, b, empty, b, null, null, p, b);
            c.stored(b, 1);
            assertEquals(1f + 0x1p-20f, get(b, 1)[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> new Context(be, empty, b, b, empty, b, null, null, Precision.FP32, put(new float[1])));
    }

    @Test
    void aPrecisionTheBackendLacksIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model("mlp", Shape.of(1, 12, 12), be, Precision.TF32));
        assertTrue(e.getMessage().contains("tf32") && e.getMessage().contains("fp32, bf16"), e.getMessage());
    }
}
