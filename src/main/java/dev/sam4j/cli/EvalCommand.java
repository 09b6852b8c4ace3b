package dev.sam4j.cli;

import dev.sam4j.io.AtomicFiles;
import dev.sam4j.plot.ConfusionPlot;
import dev.sam4j.train.Evaluator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sam4j eval}: a trained model's loss, accuracy, per-class accuracy and confusion matrix on a data set. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false, showDefaultValues = true,
        description = "Evaluate a run's model on the test split of a data set: loss, accuracy, per-class accuracy and the "
                + "confusion matrix, printed and written as eval.json, confusion.csv and confusion.png.")
final class EvalCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "CHECKPOINT_OR_RUN_DIR", description = "a run directory or its checkpoint.safetensors")
    Path checkpoint;

    @Option(names = "--data", description = "data set whose test split is evaluated (any --data form of sam4j train); default: the run's own")
    String data;

    @Option(names = "--device", description = "auto, cpu, cpu-reference, cuda[:N]")
    String device = "auto";

    @Option(names = "--threads", description = "CPU threads (0: all cores)")
    int threads = 0;

    @Option(names = "--batch-size", description = "evaluation batch size")
    int batchSize = 500;

    @Option(names = "--out", description = "where eval.json, confusion.csv and confusion.png go (default: beside the checkpoint)")
    Path out;

    @Override public Integer call() {
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size: must be >= 1, got " + batchSize);
        Evaluator.Result r = Evaluator.evaluate(checkpoint, data, device, threads, batchSize);
        Path dir = out != null ? out : r.checkpoint().toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("--out " + dir + ": cannot create: " + e.getMessage());
        }
        System.out.println(r.dataDescription());
        System.out.println("model: " + r.model() + " from " + r.checkpoint() + "; normalisation (mean/std per channel) " + r.normalization());
        System.out.println("backend: " + r.backend());
        System.out.printf(Locale.ROOT, "test loss %.4f | accuracy %.4f (%d examples)%n", r.loss(), r.accuracy(), r.examples());
        double[] pc = r.perClassAccuracy();
        StringBuilder line = new StringBuilder("per-class accuracy:");
        for (int c = 0; c < pc.length; c++) line.append(String.format(Locale.ROOT, " %d:%s", c, Double.isNaN(pc[c]) ? "-" : String.format(Locale.ROOT, "%.3f", pc[c])));
        System.out.println(line);
        System.out.println("confusion matrix (rows: true class, columns: predicted):");
        StringBuilder csv = new StringBuilder("true\\predicted");
        for (int c = 0; c < r.classes(); c++) csv.append(',').append(c);
        csv.append('\n');
        for (int t = 0; t < r.classes(); t++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%5d |", t));
            csv.append(t);
            for (int p = 0; p < r.classes(); p++) {
                row.append(String.format(Locale.ROOT, " %6d", r.confusion()[t][p]));
                csv.append(',').append(r.confusion()[t][p]);
            }
            csv.append('\n');
            if (r.classes() <= 20) System.out.println(row);
        }
        if (r.classes() > 20) System.out.println("  (" + r.classes() + " classes: see confusion.csv)");
        AtomicFiles.write(dir.resolve("confusion.csv"), csv.toString().getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve("eval.json"), json(r).getBytes(StandardCharsets.UTF_8));
        if (ModuleLayer.boot().findModule("java.desktop").isPresent()) {
            ConfusionPlot.savePng(r.confusion(), String.format(Locale.ROOT, "%s: accuracy %.4f on %d examples", r.model(), r.accuracy(), r.examples()),
                    dir.resolve("confusion.png"));
            System.out.println("written: " + dir.resolve("eval.json") + ", confusion.csv, confusion.png");
        } else {
            // a runtime without java.desktop (a jlink image made without it): the numbers, no picture
            System.out.println("written: " + dir.resolve("eval.json") + ", confusion.csv (no confusion.png: this Java runtime has no java.desktop module)");
        }
        return 0;
    }

    private static String json(Evaluator.Result r) {
        StringBuilder b = new StringBuilder("{\n");
        b.append("  \"checkpoint\": ").append(quote(r.checkpoint().toString())).append(",\n");
        b.append("  \"model\": ").append(quote(r.model())).append(",\n");
        b.append("  \"data\": ").append(quote(r.dataDescription())).append(",\n");
        b.append("  \"normalization\": ").append(quote(r.normalization())).append(",\n");
        b.append("  \"backend\": ").append(quote(r.backend())).append(",\n");
        b.append("  \"examples\": ").append(r.examples()).append(",\n");
        b.append("  \"classes\": ").append(r.classes()).append(",\n");
        b.append("  \"loss\": ").append(num(r.loss())).append(",\n");
        b.append("  \"accuracy\": ").append(num(r.accuracy())).append(",\n");
        b.append("  \"per_class_accuracy\": [");
        double[] pc = r.perClassAccuracy();
        for (int c = 0; c < pc.length; c++) b.append(c > 0 ? ", " : "").append(num(pc[c]));
        b.append("],\n  \"confusion\": [");
        for (int t = 0; t < r.classes(); t++) {
            b.append(t > 0 ? ",\n    [" : "\n    [");
            for (int p = 0; p < r.classes(); p++) b.append(p > 0 ? ", " : "").append(r.confusion()[t][p]);
            b.append(']');
        }
        return b.append("\n  ]\n}\n").toString();
    }

    private static String num(double v) { return Double.isFinite(v) ? Double.toString(v) : "null"; }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
