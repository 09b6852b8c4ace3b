/**
 * The command line ({@code sam4j train}, {@code sam4j info}): parses options into a
 * {@link dev.sam4j.train.TrainConfig}, prints progress, and turns errors into one-line messages. The
 * only package that prints.
 */
package dev.sam4j.cli;
