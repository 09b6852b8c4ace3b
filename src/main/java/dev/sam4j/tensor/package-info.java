/**
 * Shapes and the table-described flat layout shared by every arena (parameters, gradients, momentum,
 * saved weights, saved gradients, BatchNorm state). No memory lives here: backends own it.
 */
package dev.sam4j.tensor;
