/**
 * The coarse operations ({@link dev.sam4j.backend.Backend}) that layers and optimizers are written
 * against, the memory views they act on ({@link dev.sam4j.backend.Buffer}), operation geometries, and
 * the choice of backend ({@link dev.sam4j.backend.Backends}) with its logged reason.
 */
package dev.sam4j.backend;
