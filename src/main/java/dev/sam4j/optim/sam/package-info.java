/**
 * The SAM family on one step shape ({@link dev.sam4j.optim.sam.SamOptimizer}): when to take a SAM step
 * ({@link dev.sam4j.optim.sam.Policy}: always, never, Bernoulli, periodic, adaptive), how to perturb
 * ({@link dev.sam4j.optim.sam.Perturbation}: SAM, ASAM, ESAM, and Momentum-SAM with its one-pass step), LookSAM's
 * direction reuse (with an optional max age of {@code g_v}), and the AE-SAM
 * statistic ({@link dev.sam4j.optim.sam.SharpnessStats}). Methods are named combinations
 * ({@link dev.sam4j.optim.sam.Method}). {@link dev.sam4j.optim.sam.DeviceDecidedStep} maps a model and a method onto
 * the backend floor's {@link dev.sam4j.backend.DeviceStepGraph} (the whole step on the device, its SAM branch decided
 * there), knowing no backend's types. Data parallelism adds no other step: with local perturbation the optimizer
 * averages the gradient to apply itself ({@link dev.sam4j.optim.sam.SamOptimizer#perturbLocally}), with global
 * perturbation the closure does ({@link dev.sam4j.optim.sam.AveragedClosure}).
 */
package dev.sam4j.optim.sam;
