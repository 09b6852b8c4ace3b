package dev.sam4j.nn.models;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.nn.Model;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Parameter counts, names and validation of the model zoo, from layouts only (nothing is allocated). */
class ModelsTest {
    static final Shape CIFAR = Shape.of(3, 32, 32), MNIST = Shape.of(1, 28, 28);

    static Model.Layouts layouts(String name, Shape input, int classes) {
        return Model.layoutOf(Models.create(name, input, classes), input);
    }

    /** What decides whether a model needs cuDNN on CUDA: convolution, pooling or batch norm anywhere inside. */
    @Test
    void convnetsUseSpatialOpsAndTheMlpDoesNot() {
        assertFalse(Models.create("mlp", MNIST, 10).usesSpatialOps());
        assertFalse(Models.create("mlp:64", MNIST, 10).usesSpatialOps());
        for (String convnet : new String[] {"cnn", "resnet18", "wrn-16-4"}) {
            assertTrue(Models.create(convnet, convnet.equals("cnn") ? MNIST : CIFAR, 10).usesSpatialOps(), convnet);
        }
        assertTrue(new dev.sam4j.nn.Sequential().add(new dev.sam4j.nn.Flatten()).add(new dev.sam4j.nn.GlobalAvgPool()).usesSpatialOps());
    }

    @Test
    void mlpCount() {
        long expected = (784L * 512 + 512) + (512L * 512 + 512) + (512L * 10 + 10);
        assertEquals(expected, Models.paramCount("mlp", MNIST, 10));
        assertEquals(669_706, expected);
        long cifar = (3072L * 512 + 512) + (512L * 512 + 512) + (512L * 10 + 10);
        assertEquals(cifar, Models.paramCount("mlp", CIFAR, 10));
    }

    @Test
    void mlpWidthSpecScalesBothHiddenLayers() {
        for (int w : new int[] {1, 256, 4096}) {
            long expected = (784L * w + w) + ((long) w * w + w) + (w * 10L + 10);
            assertEquals(expected, Models.paramCount("mlp:" + w, MNIST, 10), "mlp:" + w);
        }
        assertEquals(Models.paramCount("mlp", MNIST, 10), Models.paramCount("mlp:512", MNIST, 10));
        // Same tensor names as mlp, so checkpoints and the PyTorch peer line up.
        assertEquals(layouts("mlp", MNIST, 10).params().specs().stream().map(ParamSpec::name).toList(),
                layouts("mlp:64", MNIST, 10).params().specs().stream().map(ParamSpec::name).toList());
        for (String bad : new String[] {"mlp:0", "mlp:", "mlp:-3", "mlp:x", "mlp:99999999999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Models.create(bad, MNIST, 10), bad);
            assertTrue(e.getMessage().contains("mlp:"), e.getMessage());
        }
    }

    @Test
    void cnnCount() {
        // conv 3x3 (no bias) + BN(γ, β), twice; two 2x2 pools shrink 32 → 8 and 28 → 7.
        long convs = (32L * 3 * 9 + 2 * 32) + (64L * 32 * 9 + 2 * 64);
        assertEquals(convs + (64L * 8 * 8 * 128 + 128) + (128L * 10 + 10), Models.paramCount("cnn", CIFAR, 10));
        long mnistConvs = (32L * 1 * 9 + 2 * 32) + (64L * 32 * 9 + 2 * 64);
        assertEquals(mnistConvs + (64L * 7 * 7 * 128 + 128) + (128L * 10 + 10), Models.paramCount("cnn", MNIST, 10));
    }

    @Test
    void resnet18HasTheReferenceCount() {
        assertEquals(11_173_962, Models.paramCount("resnet18", CIFAR, 10));
        assertEquals("resnet18: 11,173,962 parameters", Models.describe("resnet18", CIFAR, 10));
    }

    @Test
    void wideResNet28x10HasTheReferenceCount() {
        assertEquals(36_479_194, Models.paramCount("wrn-28-10", CIFAR, 10));
        assertEquals("wrn-28-10: 36,479,194 parameters", Models.describe("wrn-28-10", CIFAR, 10));
    }

    @Test
    void wideResNetCountFollowsTheArchitecture() {
        // WRN-16-4, by hand: stem, then per group a first block (with 1x1 shortcut) and n−1 identity blocks.
        int k = 4, n = 2;
        int[] w = {16, 16 * k, 32 * k, 64 * k};
        long count = 16L * 3 * 9;
        for (int g = 1; g <= 3; g++) {
            int in = w[g - 1], out = w[g];
            count += 2L * in + 9L * in * out + 2L * out + 9L * out * out + (long) in * out;  // first block
            count += (n - 1) * (2L * out + 9L * out * out + 2L * out + 9L * out * out);    // identity blocks
        }
        count += 2L * w[3] + (w[3] * 10L + 10);
        assertEquals(count, Models.paramCount("wrn-16-4", CIFAR, 10));
    }

    @Test
    void resnet18NamesFollowPyTorch() {
        ParamLayout p = layouts("resnet18", CIFAR, 10).params();
        assertEquals("conv1.weight", p.specs().get(0).name());
        assertEquals(Shape.of(64, 3, 3, 3), p.get("conv1.weight").shape());
        for (String name : new String[] {"bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
                "layer1.1.conv2.weight", "layer1.1.bn2.bias", "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight",
                "layer4.1.bn2.weight", "linear.weight", "linear.bias"}) {
            assertTrue(p.contains(name), name);
        }
        assertFalse(p.contains("layer1.0.shortcut.0.weight"), "stage 1 keeps its shape: identity shortcut");
        assertFalse(p.contains("layer2.1.shortcut.0.weight"));
        assertEquals(Shape.of(128, 64, 1, 1), p.get("layer2.0.shortcut.0.weight").shape());
        assertEquals(Shape.of(10, 512), p.get("linear.weight").shape());
        ParamLayout s = layouts("resnet18", CIFAR, 10).state();
        assertEquals(Role.RUNNING_VAR, s.get("layer3.0.shortcut.1.running_var").role());
    }

    @Test
    void wideResNetNamesFollowTheReferenceImplementation() {
        ParamLayout p = layouts("wrn-28-10", CIFAR, 10).params();
        for (String name : new String[] {"conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.conv1.weight",
                "block1.layer.0.bn2.bias", "block1.layer.0.conv2.weight", "block1.layer.0.convShortcut.weight",
                "block2.layer.0.convShortcut.weight", "block3.layer.3.conv2.weight", "bn1.weight", "fc.weight", "fc.bias"}) {
            assertTrue(p.contains(name), name);
        }
        assertFalse(p.contains("block1.layer.1.convShortcut.weight"));
        assertEquals(Shape.of(160, 16, 1, 1), p.get("block1.layer.0.convShortcut.weight").shape());
        assertEquals(Shape.of(640, 320, 3, 3), p.get("block3.layer.0.conv1.weight").shape());
        // Reference order within a block: bn1, conv1, bn2, conv2, convShortcut.
        assertTrue(p.get("block2.layer.0.bn1.weight").offset() < p.get("block2.layer.0.conv1.weight").offset());
        assertTrue(p.get("block2.layer.0.conv2.weight").offset() < p.get("block2.layer.0.convShortcut.weight").offset());
    }

    @Test
    void mlpAndCnnNames() {
        ParamLayout mlp = layouts("mlp", MNIST, 10).params();
        assertEquals(java.util.List.of("layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias",
                "layers.5.weight", "layers.5.bias"), mlp.specs().stream().map(ParamSpec::name).toList());
        ParamLayout cnn = layouts("cnn", CIFAR, 10).params();
        assertEquals(java.util.List.of("features.0.weight", "features.1.weight", "features.1.bias", "features.4.weight",
                "features.5.weight", "features.5.bias", "classifier.0.weight", "classifier.0.bias", "classifier.2.weight",
                "classifier.2.bias"), cnn.specs().stream().map(ParamSpec::name).toList());
        assertEquals(java.util.List.of("features.1.running_mean", "features.1.running_var", "features.5.running_mean",
                "features.5.running_var"), layouts("cnn", CIFAR, 10).state().specs().stream().map(ParamSpec::name).toList());
    }

    static java.util.List<String> names() { return Models.names(); }

    @ParameterizedTest
    @MethodSource("names")
    void everyNamedModelMapsImagesToLogitsWithConsistentState(String name) {
        Model.Layouts l = layouts(name, CIFAR, 7);
        assertEquals(Shape.of(7), l.output());
        long bnAffine = l.params().specs().stream().filter(s -> s.role() == Role.BN_SCALE || s.role() == Role.BN_SHIFT)
                .mapToLong(ParamSpec::size).sum();
        assertEquals(bnAffine, l.state().total(), "one running mean and variance per γ and β");
        for (ParamSpec s : l.params().specs()) assertTrue(s.role().trainable(), s.name());
    }

    @Test
    void unknownNameListsTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Models.create("resnet50", CIFAR, 10));
        for (String part : new String[] {"resnet50", "mlp", "cnn", "resnet18", "wrn-D-K", "wrn-28-10"}) {
            assertTrue(e.getMessage().contains(part), e.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"wrn-27-10", "wrn-4-1", "wrn-29-2"})
    void wideResNetDepthIsValidated(String name) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Models.create(name, CIFAR, 10));
        assertTrue(e.getMessage().contains("6·n + 4"), e.getMessage());
    }

    @Test
    void namesAreCaseInsensitiveAndImageModelsRejectFlatInputs() {
        assertEquals(Models.paramCount("resnet18", CIFAR, 10), Models.paramCount("ResNet18", CIFAR, 10));
        assertThrows(IllegalArgumentException.class, () -> Models.create("cnn", Shape.of(784), 10));
    }
}
