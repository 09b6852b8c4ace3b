/**
 * The command line ({@code sam4j train}, {@code sam4j launch} (a data-parallel job's ranks as child processes),
 * {@code sam4j export}, {@code sam4j info}, {@code sam4j bench}):
 * parses options into a {@link dev.sam4j.train.TrainConfig} (or reads a run's back for {@code --resume}),
 * prints progress, handles Ctrl-C (first: checkpoint and exit 130; second: exit at once), and turns errors
 * into one-line messages. The only package that prints.
 */
package dev.sam4j.cli;
