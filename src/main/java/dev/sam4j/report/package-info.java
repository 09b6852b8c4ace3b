/**
 * Reading finished run directories back: {@link dev.sam4j.report.RunRecord} (config, summary, per-epoch
 * metrics), {@link dev.sam4j.report.StepSeries} (the per-step statistic), side-by-side tables
 * ({@code sam4j compare}), per-run plots ({@code sam4j plot}) and the reproduction report built from a
 * grid's {@code plan.tsv} ({@code sam4j report}). Nothing here trains; it only reads what
 * {@link dev.sam4j.train.RunWriter} wrote, so every number in a report traces to a run directory.
 */
package dev.sam4j.report;
