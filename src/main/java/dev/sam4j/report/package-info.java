/**
 * Reading finished run directories back: {@link dev.sam4j.report.RunRecord} (config, summary, per-epoch
 * metrics), {@link dev.sam4j.report.StepSeries} (the per-step statistic), side-by-side tables
 * ({@code sam4j compare}), per-run plots ({@code sam4j plot}) and the reproduction report built from a
 * grid's {@code plan.tsv} ({@code sam4j report}). Nothing here trains; it only reads what
 * {@link dev.sam4j.train.RunWriter} wrote, so every number in a report traces to a run directory.
 *
 * <p>The report is split along its seams: {@link dev.sam4j.report.Report} is the public entry point and
 * holds the shared vocabulary (plan rows, cells, the method and section orders); {@code Runs} reads the
 * plan, the finished runs, their grouping into cells and failed runs' logs; {@link dev.sam4j.report.Stats}
 * computes means, spreads and paired differences; {@code Markdown} writes the page; {@code ReportCharts}
 * draws its plots and fixes each method's colour; {@code DataExport} copies the small per-run files into a
 * data folder that is itself a report root. The package depends only on {@code io} and {@code plot}.
 */
package dev.sam4j.report;
