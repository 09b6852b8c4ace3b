/**
 * The coarse operations ({@link dev.sam4j.backend.Backend}) that layers and optimizers are written
 * against, the memory views they act on ({@link dev.sam4j.backend.Buffer}), operation geometries, and
 * the precision layers compute in ({@link dev.sam4j.backend.Precision}, with the reference rounding to TF32 and bf16),
 * the choice of backend ({@link dev.sam4j.backend.Backends}) with its logged reason, and the
 * {@link dev.sam4j.backend.InputPipeline} that moves training batches onto a backend without stalling its steps.
 */
package dev.sam4j.backend;
