package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Every layer's backward against central differences in double precision, at every coordinate. */
class LayerGradientTest {

    @ParameterizedTest(name = "bias={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void linear(boolean bias) {
        new GradCheck(new Linear(5, 4, bias), Shape.of(5), 3, 1).randomInput().checkAll(Mode.TRAIN);
    }

    static Stream<Arguments> convCases() {
        List<Arguments> c = new ArrayList<>();
        for (int k : new int[] {1, 3})
            for (int stride : new int[] {1, 2})
                for (int pad : new int[] {0, 1})
                    for (boolean bias : new boolean[] {true, false}) c.add(Arguments.of(k, stride, pad, bias));
        return c.stream();
    }

    @ParameterizedTest(name = "k={0} stride={1} pad={2} bias={3}")
    @MethodSource("convCases")
    void conv2d(int k, int stride, int pad, boolean bias) {
        // 5×6 (odd, non-square) so that strided windows do not tile the input exactly.
        new GradCheck(new Conv2d(2, 3, k, stride, pad, bias), Shape.of(2, 5, 6), 2, 10L * k + stride + pad)
                .randomInput().checkAll(Mode.TRAIN);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void batchNormOverImages(Mode mode) {
        new GradCheck(new BatchNorm2d(3), Shape.of(3, 4, 3), 3, 2).randomInput().checkAll(mode);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void batchNormOverFeatures(Mode mode) {
        new GradCheck(new BatchNorm2d(4), Shape.of(4), 5, 3).randomInput().checkAll(mode);
    }

    @Test
    void relu() {
        new GradCheck(new ReLU(), Shape.of(2, 3, 3), 2, 4).inputAwayFromZero(0.01).checkAll(Mode.TRAIN);
    }

    @ParameterizedTest(name = "k={0} stride={1} pad={2}")
    @org.junit.jupiter.params.provider.CsvSource({"2,2,0", "3,2,1", "3,1,1", "2,1,0"})
    void maxPool(int k, int stride, int pad) {
        new GradCheck(new MaxPool2d(k, stride, pad), Shape.of(2, 5, 6), 2, 5).distinctInput().checkAll(Mode.TRAIN);
    }

    @Test
    void globalAvgPool() {
        new GradCheck(new GlobalAvgPool(), Shape.of(3, 3, 4), 2, 6).randomInput().checkAll(Mode.TRAIN);
    }

    @Test
    void flattenIsAViewAndPassesGradientsThrough() {
        GradCheck g = new GradCheck(new Flatten(), Shape.of(2, 3, 2), 2, 7).randomInput();
        assertEquals(Shape.of(12), g.out);
        assertSame(g.x, g.layer.forward(g.x, 2, Mode.TRAIN));
        g.checkAll(Mode.TRAIN);
        GradCheck withLinear = new GradCheck(Sequential.of(new Flatten(), new Linear(12, 3)), Shape.of(2, 3, 2), 2, 8);
        withLinear.randomInput().checkAll(Mode.TRAIN);
    }

    @Test
    void residualWithIdentity() {
        Sequential main = new Sequential()
                .add("conv1", new Conv2d(2, 2, 3, 1, 1, false)).add("bn1", new BatchNorm2d(2)).add("relu", new ReLU())
                .add("conv2", new Conv2d(2, 2, 3, 1, 1, true));
        GradCheck g = new GradCheck(new Residual(main), Shape.of(2, 4, 4), 3, 9).randomInput();
        g.checkAll(Mode.TRAIN);
        assertTrue(g.paramLayout.contains("t.conv1.weight"));
    }

    @Test
    void residualWithConvShortcut() {
        Sequential main = new Sequential()
                .add("conv1", new Conv2d(2, 3, 3, 2, 1, false)).add("bn1", new BatchNorm2d(3)).add("relu", new ReLU())
                .add("conv2", new Conv2d(3, 3, 3, 1, 1, false)).add("bn2", new BatchNorm2d(3));
        Layer shortcut = Sequential.of(new Conv2d(2, 3, 1, 2, 0, false), new BatchNorm2d(3));
        GradCheck g = new GradCheck(new Residual(main, shortcut), Shape.of(2, 5, 5), 3, 10).randomInput();
        g.checkAll(Mode.TRAIN_FROZEN_STATS);
        assertTrue(g.paramLayout.contains("t.shortcut.0.weight"));
        assertTrue(g.paramLayout.contains("t.shortcut.1.bias"));
    }

    @Test
    void residualBranchesMustAgree() {
        Residual bad = new Residual(new Conv2d(2, 3, 3, 1, 1, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bad.declare("blk", Shape.of(2, 4, 4), new ParamLayout.Builder(), new ParamLayout.Builder()));
        assertTrue(e.getMessage().contains("blk"), e.getMessage());
    }

    @Test
    void sequentialOfEverything() {
        Layer net = Sequential.of(
                new Conv2d(2, 3, 3, 1, 1, false), new BatchNorm2d(3), new ReLU(), new MaxPool2d(2),
                new Conv2d(3, 4, 1, 1, 0, true), new GlobalAvgPool(), new Linear(4, 3), new BatchNorm2d(3));
        new GradCheck(net, Shape.of(2, 6, 6), 3, 11).randomInput().checkAll(Mode.TRAIN);
    }

    static Stream<Arguments> skipCases() {
        Supplier<Layer> linear = () -> new Linear(4, 3);
        Supplier<Layer> conv = () -> new Conv2d(1, 2, 3, 2, 1, true);
        Supplier<Layer> flattenLinear = () -> Sequential.of(new Flatten(), new Linear(4, 3));
        Supplier<Layer> residual = () -> new Residual(Sequential.of(new Conv2d(1, 2, 3, 1, 1, false), new BatchNorm2d(2)),
                new Conv2d(1, 2, 1, 1, 0, false));
        Supplier<Layer> identity = () -> new Residual(Sequential.of(new BatchNorm2d(1), new ReLU(), new Conv2d(1, 1, 3, 1, 1, false)));
        return Stream.of(Arguments.of("linear", linear, Shape.of(4)), Arguments.of("conv", conv, Shape.of(1, 3, 3)),
                Arguments.of("flatten+linear", flattenLinear, Shape.of(1, 2, 2)),
                Arguments.of("residual", residual, Shape.of(1, 3, 3)), Arguments.of("identity residual", identity, Shape.of(1, 3, 3)));
    }

    /** A first layer told that nobody reads its dx returns null but writes the same parameter gradients. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("skipCases")
    void skippedInputGradientStillWritesParameterGradients(String name, Supplier<Layer> make, Shape in) {
        GradCheck full = new GradCheck(make.get(), in, 2, 12).randomInput();
        assertNotNull(full.backward(Mode.TRAIN));
        double[] expected = full.be.read(full.grads);

        Layer skipping = make.get();
        ParamLayout.Builder pb = new ParamLayout.Builder(), sb = new ParamLayout.Builder();
        skipping.declare("t", in, pb, sb);
        skipping.skipInputGradient();
        ParamLayout pl = pb.build(), sl = sb.build();
        Buffer grads = full.be.allocate(pl.total());
        // Same parameter and state values as the full layer: share its arenas.
        skipping.bind(new Context(full.be, pl, full.params, grads, sl, full.state), 2);
        skipping.forward(full.x, 2, Mode.TRAIN);
        full.be.write(full.r, full.dy);
        assertNull(skipping.backward(full.dy, 2));
        assertArrayEquals(expected, full.be.read(grads), 1e-15);
    }
}
