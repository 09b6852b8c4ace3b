/**
 * Training runs: the validated {@link dev.sam4j.train.TrainConfig}, the {@link dev.sam4j.train.Trainer}
 * loop, per-step and per-epoch records reported to {@link dev.sam4j.train.TrainListener}s, and the run
 * directory writer. A run directory also holds the run's {@link dev.sam4j.train.Checkpoint} (safetensors,
 * written by the host-driven step and by the device graph step alike, each resuming on its own kind of step; the
 * graph step is taken where the backend offers {@link dev.sam4j.backend.Backend#deviceStepGraphs()}, through the
 * backend floor's types only),
 * from which {@link dev.sam4j.train.Trainer#resume} continues bit-identically, with the configuration read
 * back by {@link dev.sam4j.train.ConfigFile}; data-parallel runs are N trainers, one a rank, each on its shard of the
 * global batch ({@link dev.sam4j.train.LocalRanks} for ranks as threads); runs that trip a numerical-fault or divergence check end in a
 * {@link dev.sam4j.train.TrainingStoppedException}. Nothing here prints; the CLI listens and prints.
 */
package dev.sam4j.train;
