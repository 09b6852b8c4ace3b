package dev.sam4j.data;

import dev.sam4j.tensor.Shape;

/**
 * A seeded, learnable stand-in for an image dataset, for tests, benchmarks and smoke runs without data
 * files. Each class has a fixed random template: uniform values on a coarse grid (one value per
 * {@value #CELL}×{@value #CELL} cell), bilinearly upsampled so that it has the spatial structure that
 * convolutions can pick up. An example is its class template shifted by up to ±{@value #MAX_SHIFT}
 * pixels (edge-clamped), plus bell-shaped noise of standard deviation {@value #NOISE_STD} grey levels,
 * rounded and clamped to 0..255. The shift makes a translation-invariant model useful; the noise keeps
 * it from being a lookup. Labels are balanced (counts differ by at most one) and in random order.
 *
 * <p>Train and test examples come from the same templates with independent shifts and noise, so test
 * accuracy measures generalisation, not memorisation.
 */
public final class Synthetic {
    public static final Shape DEFAULT_SHAPE = Shape.of(1, 28, 28);
    public static final int DEFAULT_CLASSES = 10;
    public static final int DEFAULT_TRAIN = 2048;
    public static final int DEFAULT_TEST = 512;
    /** The data is part of the problem, not of a run: every run sees the same set unless asked otherwise. */
    public static final long DEFAULT_SEED = 20170825L;

    static final int CELL = 4;
    static final int MAX_SHIFT = 2;
    static final double NOISE_STD = 48.0;

    // Stream ids keep the template, train and test draws independent of each other.
    private static final long TEMPLATE_STREAM = 1, TRAIN_STREAM = 2, TEST_STREAM = 3;

    private Synthetic() { }

    public static DataSplit generate(Shape exampleShape, int classes, int trainN, int testN, long seed) {
        if (exampleShape.rank() != 3) throw new IllegalArgumentException("example shape must be [C, H, W], got " + exampleShape);
        for (int d : exampleShape.dims()) if (d < 1) throw new IllegalArgumentException("example shape must be positive, got " + exampleShape);
        if (classes < 2) throw new IllegalArgumentException("synthetic data needs at least 2 classes, got " + classes);
        if (trainN < 1 || testN < 1) throw new IllegalArgumentException("synthetic data needs at least 1 train and 1 test example, got " + trainN + "/" + testN);
        long perExample = exampleShape.size();
        // In double: the products can pass 2^63 and a wrapped long would slip under the limits.
        if ((double) perExample * Math.max(trainN, testN) > IdxReader.MAX_PAYLOAD_BYTES
                || (double) perExample * classes > IdxReader.MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("synthetic " + exampleShape + " × " + Math.max(trainN, testN) + " examples does not fit in one array");
        }
        // Checked before allocating: a spec that cannot fit fails with a reason, not an OutOfMemoryError
        // after minutes of generating.
        double needed = bytesNeeded(exampleShape, classes, trainN, testN);
        long heap = Runtime.getRuntime().maxMemory();
        if (needed > heap) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "synthetic %s, %d classes, %d + %d examples needs about %.0f MiB, more than the JVM's heap limit of %d MiB "
                    + "(raise -Xmx, e.g. through SAM4J_JAVA_OPTS, or ask for less data)",
                    dims(exampleShape), classes, trainN, testN, needed / (1 << 20), heap >> 20));
        }
        float[][] templates = templates(exampleShape, classes, seed);
        String tag = "synthetic " + dims(exampleShape) + " " + classes + " classes";
        Dataset train = examples(tag + " train", exampleShape, templates, trainN, Rng.of(seed, TRAIN_STREAM));
        Dataset test = examples(tag + " test", exampleShape, templates, testN, Rng.of(seed, TEST_STREAM));
        return new DataSplit(train, test, "data: synthetic " + dims(exampleShape) + ", " + classes + " classes, seed " + seed
                + " (" + FashionMnist.counts(train, test) + ")");
    }

    /**
     * The heap a generated split occupies: pixels and labels of both sets, and the class templates
     * (floats) while generating. In double, since it is compared with limits, not allocated.
     */
    static double bytesNeeded(Shape exampleShape, int classes, int trainN, int testN) {
        double examples = (double) trainN + testN;
        return examples * exampleShape.size() + 4 * examples + 4.0 * classes * exampleShape.size();
    }

    /**
     * Approximately standard normal noise from one random long: the Irwin–Hall sum of its four 16-bit
     * quarters, centred and scaled to unit variance (bounded at ±3.46). An exact Gaussian costs a log
     * and a square root per pixel, which made CIFAR-sized synthetic sets take seconds to build.
     */
    static double bellNoise(long bits) {
        long sum = (bits & 0xFFFF) + ((bits >>> 16) & 0xFFFF) + ((bits >>> 32) & 0xFFFF) + (bits >>> 48);
        // each quarter is uniform on {0..65535}: mean 32767.5, variance (65536^2 - 1)/12
        return (sum - 4 * 32767.5) / Math.sqrt(4 * (65536.0 * 65536.0 - 1) / 12);
    }

    static String dims(Shape s) { return s.dim(0) + "x" + s.dim(1) + "x" + s.dim(2); }

    private static float[][] templates(Shape shape, int classes, long seed) {
        int c = shape.dim(0), h = shape.dim(1), w = shape.dim(2);
        int gh = (h + CELL - 1) / CELL + 1, gw = (w + CELL - 1) / CELL + 1; // +1: the last cell needs a right/bottom corner
        Rng rng = Rng.of(seed, TEMPLATE_STREAM);
        float[][] t = new float[classes][c * h * w];
        float[] grid = new float[gh * gw];
        for (int k = 0; k < classes; k++) {
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < grid.length; i++) grid[i] = (float) (255 * rng.nextDouble());
                for (int y = 0; y < h; y++) {
                    double fy = (y + 0.5) / CELL;
                    int y0 = (int) fy;
                    double ay = fy - y0;
                    for (int x = 0; x < w; x++) {
                        double fx = (x + 0.5) / CELL;
                        int x0 = (int) fx;
                        double ax = fx - x0;
                        double v = (1 - ay) * ((1 - ax) * grid[y0 * gw + x0] + ax * grid[y0 * gw + x0 + 1])
                                + ay * ((1 - ax) * grid[(y0 + 1) * gw + x0] + ax * grid[(y0 + 1) * gw + x0 + 1]);
                        t[k][(ch * h + y) * w + x] = (float) v;
                    }
                }
            }
        }
        return t;
    }

    private static Dataset examples(String name, Shape shape, float[][] templates, int n, Rng rng) {
        int c = shape.dim(0), h = shape.dim(1), w = shape.dim(2), e = c * h * w;
        int classes = templates.length;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % classes;
        rng.shuffle(labels);
        byte[] px = new byte[n * e];
        for (int i = 0; i < n; i++) {
            float[] t = templates[labels[i]];
            int dy = rng.nextInt(2 * MAX_SHIFT + 1) - MAX_SHIFT;
            int dx = rng.nextInt(2 * MAX_SHIFT + 1) - MAX_SHIFT;
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    int sy = Math.clamp(y + dy, 0, h - 1);
                    for (int x = 0; x < w; x++) {
                        int sx = Math.clamp(x + dx, 0, w - 1);
                        double v = t[(ch * h + sy) * w + sx] + NOISE_STD * bellNoise(rng.nextLong());
                        px[i * e + (ch * h + y) * w + x] = (byte) Math.clamp(Math.round(v), 0, 255);
                    }
                }
            }
        }
        return new Dataset(name, shape, classes, px, labels);
    }
}
