package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.data.ArrayData;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.tensor.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * A trained model with what applying it to new images needs: the network (bound to a backend, weights and
 * BatchNorm running statistics loaded), its name, and the input {@link Normalization} it was trained with.
 * {@link #load} reads one from a safetensors file written by {@link Trainer#saveModel}, {@link #save}, a run's
 * checkpoint or {@code sam4j export}; {@link #normalize}, {@link #logits} and {@link #predict} take images as
 * the data sets hold them (unsigned bytes, channel-planar, {@code [n, C, H, W]}).
 *
 * <p>The file is an ordinary safetensors file (PyTorch names, {@code format=pt}) whose metadata adds
 * {@code sam4j.model}, {@code sam4j.input_shape} ({@code C,H,W}), {@code sam4j.classes} and the normalisation's
 * {@code sam4j.normalization.mean} and {@code .std} (per channel, in units of v/255, as Java's shortest
 * round-trip decimals, so exactly). Loading checks every tensor against the model the metadata names: a missing
 * tensor, a wrong shape or a tensor the model does not have is a {@link FileFormatException} naming it.
 */
public final class SavedModel implements AutoCloseable {
    static final String INPUT_SHAPE = "sam4j.input_shape", CLASSES = "sam4j.classes",
            NORM_MEAN = "sam4j.normalization.mean", NORM_STD = "sam4j.normalization.std";
    /** The metadata this class adds to a checkpoint or weights file. */
    static final Set<String> KEYS = Set.of(INPUT_SHAPE, CLASSES, NORM_MEAN, NORM_STD);
    /** The largest batch {@link #load(Path, Backend)} binds the model for; larger inputs go through in chunks. */
    public static final int DEFAULT_MAX_BATCH = 256;

    private final String modelName;
    private final Model model;
    private final Normalization normalization;
    private final boolean owned;
    private Buffer input;   // [maxBatch, C, H, W], allocated on first use
    private Buffer labels;  // [maxBatch], with the loss: evaluate() only
    private SoftmaxCrossEntropy loss;

    private SavedModel(String modelName, Model model, Normalization normalization, boolean owned) {
        if (normalization.channels() != model.inputShape().dim(0)) {
            throw new IllegalArgumentException("SavedModel: normalisation of " + normalization.channels() + " channels for inputs of "
                    + model.inputShape());
        }
        this.modelName = modelName;
        this.model = model;
        this.normalization = normalization;
        this.owned = owned;
    }

    /**
     * A view of a model already bound (e.g. {@link Trainer#model()}), not owned: {@link #close()} leaves it open.
     *
     * @param modelName its name for {@link Models#create} ({@code "mlp"}, {@code "cnn"}, ...), written by {@link #save(Path)}
     */
    public static SavedModel of(String modelName, Model model, Normalization normalization) {
        if (model == null || normalization == null) throw new IllegalArgumentException("SavedModel.of: model and normalization must not be null");
        String problem = Models.problem(modelName);
        if (problem != null) throw new IllegalArgumentException("SavedModel.of(\"" + modelName + "\", ...): " + problem);
        return new SavedModel(modelName, model, normalization, false);
    }

    /** {@link #load(Path, Backend, int)} for batches of up to {@link #DEFAULT_MAX_BATCH}. */
    public static SavedModel load(Path file, Backend backend) { return load(file, backend, DEFAULT_MAX_BATCH); }

    /**
     * Builds the model {@code file} names on {@code backend}, for batches of up to {@code maxBatch}, and loads its
     * weights, running statistics and normalisation. The caller closes the result (which closes the model, not
     * the backend).
     *
     * @throws FileFormatException naming the file and the problem: not a sam4j model file (no model name, input
     *         shape, classes or normalisation: files written before they were stored; build the model with
     *         {@link Models#build} and use {@link #loadWeights}), or a tensor missing, of the wrong shape, not
     *         finite or not in the model
     */
    public static SavedModel load(Path file, Backend backend, int maxBatch) {
        if (maxBatch < 1) throw new IllegalArgumentException("SavedModel.load: maxBatch must be >= 1, got " + maxBatch);
        SafeTensors.Contents c = SafeTensors.read(file);
        String name = required(c, "sam4j.model");
        String problem = Models.problem(name);
        if (problem != null) throw new FileFormatException(file.toString(), "metadata \"sam4j.model\" is '" + name + "': " + problem);
        Shape shape = inputShape(c);
        int classes = classes(c);
        Normalization norm = normalization(c);
        if (norm == null) throw missing(c, NORM_MEAN);
        if (norm.channels() != shape.dim(0)) {
            throw new FileFormatException(file.toString(), "normalisation has " + norm.channels() + " channels, the input shape " + shape);
        }
        Model model;
        try {
            model = Models.build(name, shape, classes, backend, maxBatch, 0);
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(file.toString(), "model " + name + " for inputs " + shape + ": " + e.getMessage(), e);
        }
        try {
            Checkpoint.loadWeights(c, model, name);
        } catch (RuntimeException | Error e) {
            model.close();
            throw e;
        }
        return new SavedModel(name, model, norm, true);
    }

    /**
     * Loads the weights of {@code file} into {@code model} by name: any safetensors file with the model's tensors
     * (a sam4j checkpoint or model file, or PyTorch's {@code save_file(model.state_dict())}). Every parameter must
     * be there with its shape; running statistics are loaded where present; optimizer state is ignored; any other
     * tensor is an error (a wrong model, most likely). The normalisation is not the model's: see {@link #load}.
     *
     * @param modelName what messages call the model (e.g. {@code "mlp"})
     */
    public static void loadWeights(Path file, Model model, String modelName) { Checkpoint.loadWeights(file, model, modelName); }

    /** Writes this model (weights, running statistics, name, input shape, classes, normalisation) to {@code file}. */
    public void save(Path file) { save(file, modelName, model, normalization); }

    /** Writes {@code model}'s weights with its name, input shape, classes and {@code normalization} to {@code file}. */
    public static void save(Path file, String modelName, Model model, Normalization normalization) {
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt").metadata("sam4j.model", modelName);
        describe(w, model, normalization);
        float[] params = model.downloadParams(), state = model.downloadState();
        for (var s : model.paramLayout().specs()) {
            w.add(s.name(), Arrays.stream(s.shape().dims()).asLongStream().toArray(),
                    Arrays.copyOfRange(params, Math.toIntExact(s.offset()), Math.toIntExact(s.end())));
        }
        for (var s : model.stateLayout().specs()) {
            w.add(s.name(), Arrays.stream(s.shape().dims()).asLongStream().toArray(),
                    Arrays.copyOfRange(state, Math.toIntExact(s.offset()), Math.toIntExact(s.end())));
        }
        w.write(file);
    }

    public String modelName() { return modelName; }

    public Model model() { return model; }

    /** The input normalisation the model was trained with. */
    public Normalization normalization() { return normalization; }

    public Shape inputShape() { return model.inputShape(); }

    public int classes() { return model.classes(); }

    /**
     * {@code n} images as the model takes them: {@code (v/255 − mean_c) / std_c} per pixel, the floats training
     * fed it (the same table, so bit for bit), from {@code n · C·H·W} bytes, channel-planar per image.
     */
    public float[] normalize(byte[] pixels, int n) {
        int e = model.inputShape().intSize(), plane = e / model.inputShape().dim(0);
        if (n < 0 || pixels == null || (long) n * e != pixels.length) {
            throw new IllegalArgumentException("SavedModel.normalize: " + n + " images of " + model.inputShape() + " are " + (long) n * e
                    + " bytes, got " + (pixels == null ? "null" : pixels.length));
        }
        float[] x = new float[pixels.length];
        for (int i = 0; i < x.length; i++) x[i] = normalization.apply((i % e) / plane, pixels[i] & 0xFF);
        return x;
    }

    /** The logits, {@code [n, classes]}, of {@code n} images (bytes, as {@link #normalize}), with BatchNorm in eval mode. */
    public float[] logits(byte[] pixels, int n) {
        float[] x = normalize(pixels, n);
        int e = model.inputShape().intSize(), k = model.classes(), chunk = model.maxBatch();
        float[] out = new float[Math.multiplyExact(n, k)];
        Backend backend = model.backend();
        if (input == null) input = backend.allocate((long) chunk * e);
        for (int at = 0; at < n; at += chunk) {
            int m = Math.min(chunk, n - at);
            backend.upload(x, at * e, input, m * e);
            Buffer logits = model.forward(input, m, Mode.EVAL);
            backend.download(logits, out, at * k, m * k);
        }
        return out;
    }

    /**
     * The logits of {@code n} images given as floats in [0, 1] ({@code [n, C, H, W]} flattened), put on the 8-bit grid
     * first as {@code TrainConfig.Builder.data(Shape, int, float[], ...)} puts training images ({@code round(v · 255)}).
     */
    public float[] logits(float[] images, int n) { return logits(pixels(images, n), n); }

    /** {@link #predict(byte[], int)} of images given as floats in [0, 1], as {@link #logits(float[], int)} takes them. */
    public int[] predict(float[] images, int n) { return predict(pixels(images, n), n); }

    private byte[] pixels(float[] images, int n) {
        if (images == null || n < 0 || (long) n * model.inputShape().intSize() != images.length) {
            throw new IllegalArgumentException("SavedModel: " + n + " images of " + model.inputShape() + " are " + (long) n * model.inputShape().intSize()
                    + " floats, got " + (images == null ? "null" : images.length));
        }
        return ArrayData.pixels(images, model.inputShape(), "SavedModel images");
    }

    /** The predicted class (largest logit, the first on a tie) of each of {@code n} images (bytes, as {@link #normalize}). */
    public int[] predict(byte[] pixels, int n) {
        float[] l = logits(pixels, n);
        int k = model.classes();
        int[] best = new int[n];
        for (int i = 0; i < n; i++) {
            for (int j = 1; j < k; j++) if (l[i * k + j] > l[i * k + best[i]]) best[i] = j;
        }
        return best;
    }

    /** Loss and accuracy on {@code test} (its examples of this model's input shape and classes), as training measures them. */
    public Evaluation evaluate(Dataset test) {
        if (!test.exampleShape().equals(model.inputShape()) || test.classes() > model.classes()) {
            throw new IllegalArgumentException("SavedModel.evaluate: " + test.name() + " has examples of " + test.exampleShape() + " in "
                    + test.classes() + " classes; the model takes " + model.inputShape() + " in " + model.classes());
        }
        Backend backend = model.backend();
        int b = model.maxBatch();
        if (input == null) input = backend.allocate((long) b * test.exampleSize());
        if (loss == null) {
            loss = new SoftmaxCrossEntropy(backend, model.classes(), b);
            labels = backend.allocate(b);
        }
        return Evaluator.testLossAndAccuracy(backend, model, loss, test, b, normalization, input, labels, new float[b * model.classes()]);
    }

    /** Closes the model when {@link #load} made it; a view from {@link #of} leaves it to its owner. */
    @Override public void close() {
        Buffer in = input, y = labels;
        SoftmaxCrossEntropy l = loss;
        input = labels = null;
        loss = null;
        try {
            release(in);
            release(y);
            if (l != null) l.close();
        } finally {
            if (owned) model.close();
        }
    }

    /** Device memory is given back at once; host buffers are left to the garbage collector. */
    private static void release(Buffer b) {
        if (b instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("SavedModel: releasing a buffer failed", e);
            }
        }
    }

    /** Adds what {@link #load} needs besides the tensors and the model's name. */
    static void describe(SafeTensors.Writer w, Model model, Normalization norm) {
        w.metadata(INPUT_SHAPE, join(Arrays.stream(model.inputShape().dims()).asDoubleStream().toArray(), true));
        w.metadata(CLASSES, Integer.toString(model.classes()));
        double[] mean = new double[norm.channels()], std = new double[norm.channels()];
        for (int c = 0; c < mean.length; c++) { mean[c] = norm.mean(c); std[c] = norm.std(c); }
        w.metadata(NORM_MEAN, join(mean, false));
        w.metadata(NORM_STD, join(std, false));
    }

    /** The normalisation stored in {@code c}, or null when it has none (files from before it was stored). */
    static Normalization normalization(SafeTensors.Contents c) {
        if (!c.metadata().containsKey(NORM_MEAN) && !c.metadata().containsKey(NORM_STD)) return null;
        double[] mean = numbers(c, NORM_MEAN), std = numbers(c, NORM_STD);
        if (mean.length != std.length) throw bad(c, NORM_STD, "has " + std.length + " channels, \"" + NORM_MEAN + "\" " + mean.length);
        try {
            return Normalization.of(mean, std);
        } catch (IllegalArgumentException e) {
            throw bad(c, NORM_MEAN, "and \"" + NORM_STD + "\": " + e.getMessage());
        }
    }

    static Shape inputShape(SafeTensors.Contents c) {
        String[] parts = required(c, INPUT_SHAPE).split(",", -1);
        if (parts.length != 3) throw bad(c, INPUT_SHAPE, "must be C,H,W, got '" + c.meta(INPUT_SHAPE) + "'");
        int[] dims = new int[3];
        for (int i = 0; i < 3; i++) dims[i] = positive(c, INPUT_SHAPE, parts[i]);
        if ((long) dims[0] * dims[1] * dims[2] > Integer.MAX_VALUE) throw bad(c, INPUT_SHAPE, "is too large");
        return Shape.of(dims);
    }

    static int classes(SafeTensors.Contents c) { return positive(c, CLASSES, required(c, CLASSES)); }

    private static String join(double[] v, boolean integers) {
        StringBuilder b = new StringBuilder();
        for (double d : v) b.append(b.isEmpty() ? "" : ",").append(integers ? Long.toString((long) d) : Double.toString(d));
        return b.toString();
    }

    private static double[] numbers(SafeTensors.Contents c, String key) {
        String[] parts = required(c, key).split(",", -1);
        double[] v = new double[parts.length];
        for (int i = 0; i < v.length; i++) {
            try {
                v[i] = Double.parseDouble(parts[i]);
            } catch (NumberFormatException e) {
                throw bad(c, key, "is not a list of numbers: '" + c.meta(key) + "'");
            }
        }
        return v;
    }

    private static int positive(SafeTensors.Contents c, String key, String text) {
        try {
            int v = Integer.parseInt(text.strip());
            if (v >= 1) return v;
        } catch (NumberFormatException e) {
            // below
        }
        throw bad(c, key, "must hold positive integers, got '" + c.meta(key) + "'");
    }

    private static String required(SafeTensors.Contents c, String key) {
        String v = c.metadata().get(key);
        if (v == null) throw missing(c, key);
        return v;
    }

    private static FileFormatException missing(SafeTensors.Contents c, String key) {
        return new FileFormatException(c.path().toString(), "no metadata \"" + key + "\": not a sam4j model file, or one written before "
                + "sam4j stored the model's name, input shape, classes and normalisation (build the model with Models.build and "
                + "load its weights with SavedModel.loadWeights)");
    }

    private static FileFormatException bad(SafeTensors.Contents c, String key, String problem) {
        return new FileFormatException(c.path().toString(), "metadata \"" + key + "\" " + problem);
    }
}
