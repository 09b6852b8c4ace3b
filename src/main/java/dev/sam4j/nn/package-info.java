/**
 * Layers with explicit backward passes, written only against {@link dev.sam4j.backend.Backend} so they
 * run unchanged on every backend:
 * {@link dev.sam4j.nn.Linear}, {@link dev.sam4j.nn.Conv2d}, {@link dev.sam4j.nn.BatchNorm2d},
 * {@link dev.sam4j.nn.ReLU}, {@link dev.sam4j.nn.MaxPool2d}, {@link dev.sam4j.nn.GlobalAvgPool},
 * {@link dev.sam4j.nn.Flatten}; containers {@link dev.sam4j.nn.Sequential} and
 * {@link dev.sam4j.nn.Residual}; the loss {@link dev.sam4j.nn.SoftmaxCrossEntropy}; and
 * {@link dev.sam4j.nn.Model}, which owns the flat parameter, gradient and state arenas that the layers view.
 * The contract is {@link dev.sam4j.nn.Layer} (declare → bind → forward/backward) with
 * {@link dev.sam4j.nn.Context} and {@link dev.sam4j.nn.Mode}. Models by name live in {@code nn.models}.
 */
package dev.sam4j.nn;
