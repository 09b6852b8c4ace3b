/**
 * PNG charts drawn by the project itself (XChart, headless), used by {@code sam4j plot}, the
 * reproduction report and the benchmark scaling plots. One small entry point, {@link dev.sam4j.plot.Charts},
 * so every plot in the project has the same labelled axes, legend placement and size.
 */
package dev.sam4j.plot;
