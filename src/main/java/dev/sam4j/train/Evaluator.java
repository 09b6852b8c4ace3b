package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Buffer;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.DataSpec;
import dev.sam4j.data.DataSplit;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.data.Subset;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import dev.sam4j.nn.Layer;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.tensor.Shape;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code sam4j eval}: a trained model's loss, accuracy and confusion matrix on the test split of any data
 * set sam4j reads. The model is rebuilt from the checkpoint's recorded configuration and its weights
 * loaded; inputs are normalised with the statistics the run trained with: those stored in the checkpoint
 * ({@link SavedModel}), or, for a checkpoint written before they were stored, those {@link Normalization#fit}
 * measures on the run's training set (its {@code --data}, after {@code --train-subset}; label noise does not
 * touch pixels), which is then read again here.
 */
public final class Evaluator {
    private Evaluator() {}

    /**
     * @param confusion {@code [true class][predicted class]} counts
     */
    public record Result(Path checkpoint, String model, String dataDescription, String normalization, String backend,
                         int classes, long examples, double loss, double accuracy, long[][] confusion) {
        /** Per-class accuracy (recall); NaN for a class with no example. */
        public double[] perClassAccuracy() {
            double[] a = new double[classes];
            for (int c = 0; c < classes; c++) {
                long n = 0;
                for (long v : confusion[c]) n += v;
                a[c] = n == 0 ? Double.NaN : confusion[c][c] / (double) n;
            }
            return a;
        }
    }

    /** The checkpoint file of {@code checkpointOrRunDir} (a run directory or the file itself). */
    public static Path checkpointFile(Path checkpointOrRunDir) {
        Path f = Files.isDirectory(checkpointOrRunDir) ? checkpointOrRunDir.resolve(Checkpoint.FILE) : checkpointOrRunDir;
        if (!Files.isRegularFile(f)) throw new FileFormatException(f.toString(), "no such checkpoint (give a run directory or its checkpoint.safetensors)");
        return f;
    }

    /**
     * @param dataSpec the {@code --data} to evaluate on (its test split), or null for the run's own
     */
    public static Result evaluate(Path checkpointOrRunDir, String dataSpec, String device, int threads, int batchSize) {
        Path file = checkpointFile(checkpointOrRunDir);
        SafeTensors.Contents c = SafeTensors.read(file);
        String configText = c.metadata().get("sam4j.config");
        if (configText == null) throw new FileFormatException(file.toString(), "not a sam4j checkpoint (no sam4j.config in its metadata)");
        TrainConfig cfg = ConfigFile.parse(configText, file + " metadata sam4j.config");
        // The normalisation the run trained with: stored in the checkpoint since sam4j keeps it there; an older
        // checkpoint gets it re-measured on the run's training set (deterministic, so the same statistics).
        if (dataSpec == null && cfg.data().startsWith("memory:")) {
            throw new IllegalArgumentException("--data: the run trained on data sets in memory (" + cfg.data() + "); give the data to evaluate on");
        }
        Normalization norm = SavedModel.normalization(c);
        boolean stored = norm != null && c.metadata().containsKey(SavedModel.INPUT_SHAPE) && c.metadata().containsKey(SavedModel.CLASSES);
        DataSplit trained = null;
        Shape shape;
        int classes;
        if (stored) {
            shape = SavedModel.inputShape(c);
            classes = SavedModel.classes(c);
        } else {
            trained = DataSpec.parse(cfg.data()).load();
            Dataset train = trained.train();
            if (cfg.trainSubset() > 0 && cfg.trainSubset() <= train.size()) train = Subset.choose(train, cfg.trainSubset(), cfg.seed());
            norm = Normalization.fit(train);
            shape = train.exampleShape();
            classes = train.classes();
        }
        String spec = dataSpec == null ? cfg.data() : DataSpec.parse(dataSpec).spec();
        DataSplit evalSplit = trained != null && spec.equals(DataSpec.parse(cfg.data()).spec()) ? trained : DataSpec.parse(spec).load();
        Dataset test = evalSplit.test();
        if (!test.exampleShape().equals(shape) || test.classes() > classes) {
            throw new IllegalArgumentException("--data " + spec + ": examples of " + test.exampleShape() + " in " + test.classes()
                    + " classes, but the model in " + file + " (" + cfg.model() + ") takes " + shape + " in " + classes + " classes");
        }
        Layer net = Models.create(cfg.model(), shape, classes);
        Backends.Choice choice = Backends.choose(device, threads, new Backends.Needs(net.usesSpatialOps() ? "model " + cfg.model() : null, false,
                cfg.precision()));
        Backend backend = choice.backend();
        try (backend) {
            try (Model model = new Model(net, shape, classes, backend, batchSize, cfg.seed(), cfg.precision())) {
                Checkpoint.loadWeights(file, model, cfg.model());
                SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(backend, classes, batchSize);
                Buffer x = backend.allocate((long) batchSize * test.exampleSize());
                Buffer y = backend.allocate(batchSize);
                float[] logits = new float[batchSize * classes];
                long[][] confusion = new long[classes][classes];
                double lossSum = 0;
                long correct = 0;
                try (BatchLoader loader = BatchLoader.forEval(test, batchSize, norm); BatchLoader.Epoch it = loader.epoch(0)) {
                    BatchLoader.Batch b;
                    while ((b = it.next()) != null) {
                        int n = b.n();
                        backend.upload(b.x(), 0, x, n * test.exampleSize());
                        backend.upload(b.labels(), 0, y, n);
                        Buffer out = model.forward(x, n, Mode.EVAL);
                        lossSum += loss.forward(out, y, n) * n;
                        backend.download(out, logits, 0, n * classes);
                        for (int i = 0; i < n; i++) {
                            int best = 0;
                            for (int j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
                            int label = (int) b.labels()[i];
                            confusion[label][best]++;
                            if (best == label) correct++;
                        }
                    }
                }
                StringBuilder ns = new StringBuilder();
                for (int ch = 0; ch < norm.channels(); ch++) {
                    ns.append(ch > 0 ? ", " : "").append(String.format(java.util.Locale.ROOT, "%.4f/%.4f", norm.mean(ch), norm.std(ch)));
                }
                ns.append(stored ? " (stored in the checkpoint)"
                        : " (re-measured on the run's training set: the checkpoint predates stored normalisation)");
                return new Result(file, cfg.model(), evalSplit.description(), ns.toString(), backend.name() + " (" + choice.reason() + ")",
                        classes, test.size(), lossSum / test.size(), correct / (double) test.size(), confusion);
            }
        }
    }
    /**
     * A training run's test loss and accuracy after an epoch: with BatchNorm in {@link Mode#EVAL}, in order, without
     * augmentation, through the trainer's own input buffers ({@code logitsHost}: {@code [maxBatch, classes]}).
     */
    static Evaluation testLossAndAccuracy(Backend backend, Model model, SoftmaxCrossEntropy loss, Dataset test, int batchSize,
                                        Normalization normalization, Buffer xBuf, Buffer labelBuf, float[] logitsHost) {
        double[] sums = testSums(backend, model, loss, test, batchSize, normalization, xBuf, labelBuf, logitsHost);
        return new Evaluation(sums[0] / test.size(), sums[1] / test.size(), test.size());
    }

    /** {@code {Σ loss, correct}} over {@code test} (a rank's shard: the ranks' sums add up to the whole set's). */
    static double[] testSums(Backend backend, Model model, SoftmaxCrossEntropy loss, Dataset test, int batchSize,
                             Normalization normalization, Buffer xBuf, Buffer labelBuf, float[] logitsHost) {
        int classes = test.classes();
        double lossSum = 0;
        long correct = 0;
        try (BatchLoader loader = BatchLoader.forEval(test, batchSize, normalization);
             BatchLoader.Epoch it = loader.epoch(0)) {
            BatchLoader.Batch batch;
            while ((batch = it.next()) != null) {
                int n = batch.n();
                backend.upload(batch.x(), 0, xBuf, n * test.exampleSize());
                backend.upload(batch.labels(), 0, labelBuf, n);
                Buffer logits = model.forward(xBuf, n, Mode.EVAL);
                lossSum += loss.forward(logits, labelBuf, n) * n;
                backend.download(logits, logitsHost, 0, n * classes);
                correct += BatchClosure.countCorrect(logitsHost, batch.labels(), n, classes);
            }
        }
        return new double[] {lossSum, correct};
    }
}
