package dev.sam4j.nn.models;

import dev.sam4j.backend.Backend;
import dev.sam4j.nn.BatchNorm2d;
import dev.sam4j.nn.Conv2d;
import dev.sam4j.nn.Flatten;
import dev.sam4j.nn.GlobalAvgPool;
import dev.sam4j.nn.Layer;
import dev.sam4j.nn.Linear;
import dev.sam4j.nn.MaxPool2d;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.ReLU;
import dev.sam4j.nn.Residual;
import dev.sam4j.nn.Sequential;
import dev.sam4j.tensor.Shape;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The model zoo, by name. Tensor names follow the PyTorch reference implementations so that checkpoints
 * line up name by name:
 * <ul>
 *   <li>{@code mlp}: {@code layers.{1,3,5}.{weight,bias}} (an {@code nn.Sequential} named {@code layers}:
 *       0 Flatten, 1 Linear(in, 512), 2 ReLU, 3 Linear(512, 512), 4 ReLU, 5 Linear(512, classes));</li>
 *   <li>{@code mlp:WIDTH}: the same with both hidden layers {@code WIDTH} wide (e.g. {@code mlp:4096}), so
 *       that benchmarks can scale the parameter count without touching anything else;</li>
 *   <li>{@code cnn}: {@code features.{0,4}.weight} (3×3 convs, 32 and 64 channels, no bias),
 *       {@code features.{1,5}.*} (BatchNorm), {@code classifier.{0,2}.*} (Linear(·, 128), Linear(128, classes));
 *       each conv block is conv-BN-ReLU-maxpool(2);</li>
 *   <li>{@code resnet18}: the CIFAR ResNet-18: {@code conv1}, {@code bn1}, {@code layer1.0.conv1} ...
 *       {@code layer4.1.bn2}, shortcuts {@code layerS.0.shortcut.0} (1×1 conv) and {@code .shortcut.1} (BN),
 *       {@code linear};</li>
 *   <li>{@code wrn-D-K}: Wide ResNet of depth D (with (D − 4) % 6 == 0) and width K, pre-activation blocks:
 *       {@code conv1}, {@code block1.layer.0.bn1}, {@code block1.layer.0.conv1}, {@code ...bn2},
 *       {@code ...conv2}, {@code ...convShortcut}, then {@code bn1} and {@code fc}; no dropout.</li>
 * </ul>
 * BatchNorm tensors are {@code weight} (γ), {@code bias} (β), {@code running_mean} and {@code running_var}.
 */
public final class Models {
    private Models() {}

    private static final Pattern WRN = Pattern.compile("wrn-(\\d+)-(\\d+)");
    private static final Pattern MLP = Pattern.compile("mlp:(\\d{1,9})");

    /** Canonical names; any {@code wrn-D-K} with (D − 4) % 6 == 0 and any {@code mlp:WIDTH} are accepted as well. */
    public static List<String> names() { return List.of("mlp", "cnn", "resnet18", "wrn-16-4", "wrn-28-10"); }

    /**
     * What is wrong with the model name {@code name}, or null when {@link #create} takes it (for some input): checks
     * the name alone, so that a configuration can reject a typo before any data is loaded.
     */
    public static String problem(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT);
        if (key.equals("mlp") || key.equals("cnn") || key.equals("resnet18")) return null;
        try {
            Matcher m = WRN.matcher(key);
            if (m.matches()) {
                int depth = Integer.parseInt(m.group(1)), width = Integer.parseInt(m.group(2));
                if (depth < 10 || (depth - 4) % 6 != 0) return "Wide ResNet depth must be 6·n + 4 with n ≥ 1 (10, 16, 22, 28, ...), got " + depth;
                return width < 1 ? "Wide ResNet width must be positive, got " + width : null;
            }
            Matcher w = MLP.matcher(key);
            if (w.matches()) return Integer.parseInt(w.group(1)) < 1 ? "mlp:WIDTH needs a positive width" : null;
        } catch (NumberFormatException e) {
            return "a number in the name is out of range";
        }
        return UNKNOWN;
    }

    private static final String UNKNOWN = "unknown model; valid names: mlp, mlp:WIDTH (hidden width, e.g. mlp:4096), cnn, resnet18,"
            + " wrn-D-K (Wide ResNet of depth D with (D - 4) % 6 == 0 and width K, e.g. wrn-16-4, wrn-28-10)";

    /** The network called {@code name} for per-example inputs of {@code input} and {@code classes} outputs. */
    public static Layer create(String name, Shape input, int classes) {
        if (classes < 1) throw new IllegalArgumentException("classes must be positive, got " + classes);
        String key = name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT);
        switch (key) {
            case "mlp": return mlp(input, classes, 512, 2);
            case "cnn": return cnn(input, classes);
            case "resnet18": return resnet(input, classes, new int[] {64, 128, 256, 512}, new int[] {2, 2, 2, 2});
            default:
                Matcher m = WRN.matcher(key);
                if (m.matches()) return wideResNet(input, classes, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
                Matcher w = MLP.matcher(key);
                if (w.matches()) {
                    int width = Integer.parseInt(w.group(1));
                    if (width < 1) throw new IllegalArgumentException("mlp:WIDTH needs a positive width, got '" + name + "'");
                    return mlp(input, classes, width, 2);
                }
                throw new IllegalArgumentException("unknown model '" + name + "'; valid names: mlp, mlp:WIDTH (hidden width,"
                        + " e.g. mlp:4096), cnn, resnet18, wrn-D-K (Wide ResNet of depth D with (D - 4) % 6 == 0 and width K,"
                        + " e.g. wrn-16-4, wrn-28-10)");
        }
    }

    /** {@link #create} bound to a backend and initialised from {@code seed}. */
    public static Model build(String name, Shape input, int classes, Backend backend, int maxBatch, long seed) {
        return new Model(create(name, input, classes), input, classes, backend, maxBatch, seed);
    }

    /** Trainable parameters, counted from the layout without allocating. */
    public static long paramCount(String name, Shape input, int classes) {
        return Model.layoutOf(create(name, input, classes), input).paramCount();
    }

    /** E.g. {@code "resnet18: 11,173,962 parameters"}. */
    public static String describe(String name, Shape input, int classes) {
        return String.format(java.util.Locale.ROOT, "%s: %,d parameters", name, paramCount(name, input, classes));
    }

    /** Flatten, then {@code hiddenLayers} × (Linear(·, width), ReLU), then Linear(width, classes). */
    public static Layer mlp(Shape input, int classes, int width, int hiddenLayers) {
        Sequential layers = Sequential.of(new Flatten());
        int in = input.intSize();
        for (int i = 0; i < hiddenLayers; i++) {
            layers.add(new Linear(in, width)).add(new ReLU());
            in = width;
        }
        layers.add(new Linear(in, classes));
        return new Sequential().add("layers", layers);
    }

    /** Two conv(3×3, pad 1)-BN-ReLU-maxpool(2) blocks of 32 and 64 channels, then Linear(·, 128), ReLU, Linear(128, classes). */
    public static Layer cnn(Shape input, int classes) {
        requireImage(input, "cnn", 4);
        int h = input.dim(1) / 2 / 2, w = input.dim(2) / 2 / 2;
        Sequential features = Sequential.of(
                new Conv2d(input.dim(0), 32, 3, 1, 1, false), new BatchNorm2d(32), new ReLU(), new MaxPool2d(2),
                new Conv2d(32, 64, 3, 1, 1, false), new BatchNorm2d(64), new ReLU(), new MaxPool2d(2));
        Sequential classifier = Sequential.of(new Linear(64 * h * w, 128), new ReLU(), new Linear(128, classes));
        return new Sequential().add("features", features).add("flatten", new Flatten()).add("classifier", classifier);
    }

    /**
     * CIFAR-style ResNet with BasicBlocks: 3×3 stem conv (stride 1, no bias) + BN + ReLU, no max-pool;
     * stage {@code s} has {@code blocks[s]} blocks of {@code widths[s]} channels, the first block of every
     * stage after the first has stride 2; a 1×1 conv + BN shortcut wherever the shape changes; global
     * average pool; Linear. {@code widths = {64, 128, 256, 512}, blocks = {2, 2, 2, 2}} is ResNet-18.
     */
    public static Layer resnet(Shape input, int classes, int[] widths, int[] blocks) {
        requireImage(input, "resnet", 1);
        if (widths.length == 0 || widths.length != blocks.length) throw new IllegalArgumentException("need one width per stage");
        Sequential net = new Sequential()
                .add("conv1", new Conv2d(input.dim(0), widths[0], 3, 1, 1, false))
                .add("bn1", new BatchNorm2d(widths[0]))
                .add("relu", new ReLU());
        int in = widths[0];
        for (int s = 0; s < widths.length; s++) {
            Sequential stage = new Sequential();
            for (int b = 0; b < blocks[s]; b++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                stage.add(basicBlock(in, widths[s], stride));
                in = widths[s];
            }
            net.add("layer" + (s + 1), stage);
        }
        return net.add("pool", new GlobalAvgPool()).add("linear", new Linear(in, classes));
    }

    /** {@code relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))}. */
    static Layer basicBlock(int in, int out, int stride) {
        Sequential main = new Sequential()
                .add("conv1", new Conv2d(in, out, 3, stride, 1, false))
                .add("bn1", new BatchNorm2d(out))
                .add("relu", new ReLU())
                .add("conv2", new Conv2d(out, out, 3, 1, 1, false))
                .add("bn2", new BatchNorm2d(out));
        Layer shortcut = stride != 1 || in != out
                ? Sequential.of(new Conv2d(in, out, 1, stride, 0, false), new BatchNorm2d(out))
                : null;
        return new Sequential().add("", new Residual(main, shortcut)).add("relu", new ReLU());
    }

    /**
     * Wide ResNet WRN-{@code depth}-{@code width} (Zagoruyko and Komodakis), pre-activation blocks, no
     * dropout: stem conv 3×3 → 16; three groups of {@code (depth − 4) / 6} blocks of 16·k, 32·k, 64·k
     * channels with strides 1, 2, 2; BN, ReLU, global average pool, Linear.
     */
    public static Layer wideResNet(Shape input, int classes, int depth, int width) {
        requireImage(input, "wrn", 1);
        if (depth < 10 || (depth - 4) % 6 != 0) {
            throw new IllegalArgumentException("Wide ResNet depth must be 6·n + 4 with n ≥ 1 (10, 16, 22, 28, ...), got " + depth);
        }
        if (width < 1) throw new IllegalArgumentException("Wide ResNet width must be positive, got " + width);
        int n = (depth - 4) / 6;
        int[] widths = {16 * width, 32 * width, 64 * width};
        int[] strides = {1, 2, 2};
        Sequential net = new Sequential().add("conv1", new Conv2d(input.dim(0), 16, 3, 1, 1, false));
        int in = 16;
        for (int g = 0; g < 3; g++) {
            Sequential layer = new Sequential();
            for (int b = 0; b < n; b++) {
                layer.add(preActBlock(in, widths[g], b == 0 ? strides[g] : 1));
                in = widths[g];
            }
            net.add("block" + (g + 1), new Sequential().add("layer", layer));
        }
        return net.add("bn1", new BatchNorm2d(in)).add("relu", new ReLU())
                .add("pool", new GlobalAvgPool()).add("fc", new Linear(in, classes));
    }

    /**
     * Pre-activation block {@code conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut}. The shortcut is the
     * identity on the raw {@code x} when shapes agree, otherwise a 1×1 conv on the <em>pre-activated</em>
     * input {@code relu(bn1(x))}, as in the reference implementation.
     */
    static Layer preActBlock(int in, int out, int stride) {
        if (in == out && stride == 1) {
            Sequential main = new Sequential()
                    .add("bn1", new BatchNorm2d(in)).add("relu1", new ReLU())
                    .add("conv1", new Conv2d(in, out, 3, stride, 1, false))
                    .add("bn2", new BatchNorm2d(out)).add("relu2", new ReLU())
                    .add("conv2", new Conv2d(out, out, 3, 1, 1, false));
            return new Residual(main);
        }
        Sequential main = new Sequential()
                .add("conv1", new Conv2d(in, out, 3, stride, 1, false))
                .add("bn2", new BatchNorm2d(out)).add("relu2", new ReLU())
                .add("conv2", new Conv2d(out, out, 3, 1, 1, false));
        return new Sequential()
                .add("bn1", new BatchNorm2d(in)).add("relu1", new ReLU())
                .add("", new Residual(main, "convShortcut", new Conv2d(in, out, 1, stride, 0, false)));
    }

    private static void requireImage(Shape input, String model, int minSide) {
        if (input.rank() != 3 || input.dim(1) < minSide || input.dim(2) < minSide) {
            throw new IllegalArgumentException(model + " needs [C, H, W] inputs with H, W ≥ " + minSide + ", got " + input);
        }
    }
}
