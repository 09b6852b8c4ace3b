package dev.sam4j.cli;

import dev.sam4j.benchmark.BenchReport;
import dev.sam4j.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sam4j bench-report}: merges the JSON lines of {@code sam4j bench} and of the PyTorch peer into a
 * results JSON, a markdown table and, for scaling runs, a CSV and two PNG plots. {@code scripts/bench}
 * calls it; it is a separate command so that lines from several processes (and the other language) meet
 * in one place.
 */
@Command(name = "bench-report", mixinStandardHelpOptions = true,
        description = "Merge benchmark JSON lines (sam4j bench, scripts/peers/pytorch_sam.py) into a results JSON, a markdown "
                + "table and optionally a CSV and plots; prints the markdown.")
final class BenchReportCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "LINES", description = "files of JSON lines (other lines are skipped)")
    List<Path> inputs;

    @Option(names = "--meta", paramLabel = "KEY=VALUE", description = "a metadata entry for the report (repeatable)")
    List<String> meta = List.of();

    @Option(names = "--json", paramLabel = "FILE", description = "write the results document here")
    Path json;

    @Option(names = "--markdown", paramLabel = "FILE", description = "write the markdown tables here")
    Path markdown;

    @Option(names = "--csv", paramLabel = "FILE", description = "write one CSV line per model, method and batch here")
    Path csv;

    @Option(names = "--plot", paramLabel = "PREFIX", description = "write PREFIX-time.png and PREFIX-memory.png")
    Path plot;

    @Option(names = "--plot-x", description = "x axis of the plots: batch or params")
    String plotX = "batch";

    @Option(names = "--title", description = "what the run varies, for the plot titles (after \"Time per step, \" and \"sam4j memory per method, \")")
    String title = "sam4j step benchmark";

    @Override public Integer call() throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String kv : meta) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("--meta: expected KEY=VALUE, got '" + kv + "'");
            m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        for (Path p : inputs) if (!Files.isRegularFile(p)) throw new IllegalArgumentException("no such file: " + p);
        List<BenchReport.Row> rows = BenchReport.merge(BenchReport.readLines(inputs));
        if (rows.isEmpty()) throw new IllegalArgumentException("no benchmark lines in " + inputs);
        String md = BenchReport.markdown(m, rows);
        if (json != null) write(json, Json.pretty(BenchReport.json(m, rows)) + "\n");
        if (markdown != null) write(markdown, md);
        if (csv != null) write(csv, BenchReport.csv(rows));
        if (plot != null) {
            String base = plot.toString();
            BenchReport.plots(title, rows, plotX, Path.of(base + "-time.png"), Path.of(base + "-memory.png"));
        }
        System.out.print(md);
        return 0;
    }

    private static void write(Path p, String text) throws IOException {
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(p, text);
    }
}
