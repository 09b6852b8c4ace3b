package dev.sam4j.train;

/**
 * A model's result on a test set, as {@link Trainer#evaluate()} measures it after each epoch (BatchNorm in eval
 * mode, in order, no augmentation).
 *
 * @param loss     mean softmax cross-entropy over the examples
 * @param accuracy fraction of examples whose largest logit is the label's
 * @param examples how many examples were evaluated
 */
public record Evaluation(double loss, double accuracy, long examples) {}
