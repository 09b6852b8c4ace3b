/**
 * The coarse operations ({@link dev.sam4j.backend.Backend}) that layers and optimizers are written
 * against, the memory views they act on ({@link dev.sam4j.backend.Buffer}), operation geometries, and
 * the precision layers compute in ({@link dev.sam4j.backend.Precision}, with the reference rounding to TF32 and bf16),
 * how images lie between layers ({@link dev.sam4j.backend.ImageLayout}: NCHW, or NHWC on a CUDA backend opened channels-last),
 * the choice of backend ({@link dev.sam4j.backend.Backends}) with its logged reason, and the
 * {@link dev.sam4j.backend.InputPipeline} that moves training batches onto a backend without stalling its steps.
 * A backend's capabilities beyond the operations are asked of {@code Backend}, never found by testing its class:
 * among them the device-decided training step ({@link dev.sam4j.backend.DeviceStepGraph}, built through
 * {@link dev.sam4j.backend.Backend#deviceStepGraphs()}), and collectives on device buffers
 * ({@link dev.sam4j.backend.DeviceCollective}, through {@link dev.sam4j.backend.Backend#joinDeviceCollective}: NCCL on
 * CUDA). Only this package ({@code Backends}, which opens the chosen
 * device) and {@code backend.cuda} itself name the CUDA backend's types.
 */
package dev.sam4j.backend;
