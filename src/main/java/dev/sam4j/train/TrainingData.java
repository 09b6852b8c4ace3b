package dev.sam4j.train;

import dev.sam4j.data.DataSpec;
import dev.sam4j.data.DataSplit;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.LabelNoise;
import dev.sam4j.data.Subset;
import dev.sam4j.io.InvalidSettingException;

/**
 * A run's data as {@code --data}, {@code --train-subset} and {@code --label-noise} make it: the training set (the
 * subset chosen first, then the noise, so its rate is the stated one on the examples trained on), the test set, and
 * the description the run's records carry.
 */
record TrainingData(Dataset train, Dataset test, String description) {

    static TrainingData load(TrainConfig config) {
        if (config.inMemory() == null && config.data().startsWith("memory:")) {
            throw new IllegalArgumentException("--data " + config.data() + ": the run trained on data sets in memory, which only library "
                    + "code can give again (TrainConfig.Builder.data(train, test))");
        }
        DataSplit data = config.inMemory() != null ? config.inMemory() : DataSpec.parse(config.data()).load();
        Dataset tr = data.train();
        String desc = data.description();
        if (config.trainSubset() > 0) {
            // Before the label noise, so the noise rate is the stated one on the examples actually trained on.
            if (config.trainSubset() > tr.size()) {
                String why = ": larger than the training set (" + tr.size() + " examples)";
                throw new InvalidSettingException("TrainConfig.Builder.trainSubset(" + config.trainSubset() + ")" + why, "train-subset",
                        "--train-subset " + config.trainSubset() + why);
            }
            tr = Subset.choose(tr, config.trainSubset(), config.seed());
            desc += "; training on a seeded random subset of " + config.trainSubset() + " examples";
        }
        if (config.labelNoise() > 0) {
            LabelNoise.Result noisy = LabelNoise.apply(tr, config.labelNoise(), config.seed() ^ 0x6C6162656CL);
            tr = noisy.dataset();
            desc += String.format(java.util.Locale.ROOT,
                    "; symmetric label noise %.2f: %d labels redrawn uniformly from all classes, %.4f of training labels changed",
                    config.labelNoise(), noisy.resampled(), noisy.changedFraction());
        }
        if (!tr.exampleShape().equals(data.test().exampleShape()) || tr.classes() != data.test().classes()) {
            throw new IllegalArgumentException("--data " + config.data() + ": train and test sets disagree on shape or classes");
        }
        return new TrainingData(tr, data.test(), desc);
    }
}
