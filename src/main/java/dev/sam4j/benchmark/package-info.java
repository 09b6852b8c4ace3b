/**
 * Benchmarking, not training: {@link dev.sam4j.benchmark.StepBenchmark} times whole training steps of a model
 * and method on fixed random batches ({@code sam4j bench}), and {@link dev.sam4j.benchmark.BenchReport} merges
 * its lines with the PyTorch peer's into tables, CSV and plots ({@code sam4j bench-report}). It sits above
 * {@code train} and below {@code cli}, and may draw plots; nothing below it knows it exists.
 */
package dev.sam4j.benchmark;
