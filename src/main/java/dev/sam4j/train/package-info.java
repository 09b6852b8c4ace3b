/**
 * Training runs: the validated {@link dev.sam4j.train.TrainConfig}, the {@link dev.sam4j.train.Trainer}
 * loop, per-step and per-epoch records reported to {@link dev.sam4j.train.TrainListener}s, and the run
 * directory writer. Nothing here prints; the CLI listens and prints.
 */
package dev.sam4j.train;
