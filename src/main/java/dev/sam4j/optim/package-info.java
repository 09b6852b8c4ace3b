/**
 * The base optimizer (SGD with momentum, Nesterov and weight decay, PyTorch convention) and learning
 * rate schedules. SAM-family methods (added in {@code optim.sam}) feed their chosen gradient into this
 * same update.
 */
package dev.sam4j.optim;
