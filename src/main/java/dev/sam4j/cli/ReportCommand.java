package dev.sam4j.cli;

import dev.sam4j.report.Report;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sam4j report ROOT}: the reproduction report from a grid made by scripts/reproduce. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Write the reproduction report (Markdown + PNG plots) from a grid root made by scripts/reproduce "
                + "(its plan.tsv lists every planned run), and copy the small per-run files it is built from.")
final class ReportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "ROOT", description = "the grid root (holds plan.tsv), or a data folder a previous report copied")
    Path root;

    @Option(names = "--markdown", description = "the report file (default: ROOT/REPORT.md)")
    Path markdown;

    @Option(names = "--plots", description = "PNG folder (default: beside the report, <name>-plots)")
    Path plots;

    @Option(names = "--data", description = "where to copy the per-run files (default: beside the report, <name>-data)")
    Path data;

    @Option(names = "--command", description = "the command that ran the grid, quoted in the report")
    String command;

    @Option(names = "--machine", description = "lscpu output to quote (default: ROOT/machine.txt)")
    Path machine;

    @Option(names = "--notes", description = "Markdown inserted after the machine section (the reading of the results)")
    Path notes;

    @Override public Integer call() {
        Path md = markdown != null ? markdown : root.resolve("REPORT.md");
        Report.write(new Report.Options(root, md, plots, data, command, machine, notes));
        System.out.println("wrote " + md);
        return 0;
    }
}
