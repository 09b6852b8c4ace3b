/**
 * The model zoo ({@link dev.sam4j.nn.models.Models}): {@code mlp}, {@code cnn}, CIFAR {@code resnet18}
 * and Wide ResNets {@code wrn-D-K}, built from {@link dev.sam4j.nn} layers with PyTorch-compatible
 * tensor names, plus parameter counting without allocation.
 */
package dev.sam4j.nn.models;
