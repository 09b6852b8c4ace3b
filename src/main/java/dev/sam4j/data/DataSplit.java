package dev.sam4j.data;

/**
 * A training set, its test set, and one line for the run log saying where they came from, e.g.
 * {@code "data: fashion-mnist full set from /usr/share/datasets/fashion-mnist (60000 train / 10000 test)"}.
 */
public record DataSplit(Dataset train, Dataset test, String description) {
    public DataSplit {
        if (!train.exampleShape().equals(test.exampleShape()) || train.classes() != test.classes()) {
            throw new IllegalArgumentException("train " + train.exampleShape() + "/" + train.classes() + " classes and test "
                    + test.exampleShape() + "/" + test.classes() + " classes disagree");
        }
    }
}
