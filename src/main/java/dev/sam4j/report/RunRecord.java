package dev.sam4j.report;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.JsonReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A finished run directory read back: {@code config.json}, {@code summary.json} and {@code metrics.csv}
 * (the files a report is built from; {@code steps.jsonl} is read separately by {@link StepSeries}).
 */
public record RunRecord(Path dir, Map<String, Object> config, Map<String, Object> summary, List<Epoch> epochs) {

    /** One row of {@code metrics.csv}. */
    public record Epoch(int epoch, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
                        double samFraction, double seconds) {}

    /** Whether {@code dir} holds a finished run (its {@code summary.json} is written last). */
    public static boolean isFinished(Path dir) {
        return Files.isRegularFile(dir.resolve("summary.json"));
    }

    /** Reads a run directory; a missing or malformed file is named in the one-line error. */
    public static RunRecord load(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a run directory (no such directory)");
        if (!isFinished(dir)) throw new IllegalArgumentException(dir + ": no summary.json (the run has not finished)");
        Map<String, Object> config = readJson(dir.resolve("config.json"));
        Map<String, Object> summary = readJson(dir.resolve("summary.json"));
        return new RunRecord(dir, config, summary, readMetrics(dir.resolve("metrics.csv")));
    }

    private static Map<String, Object> readJson(Path file) {
        try {
            return JsonReader.parseObject(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": missing");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        } catch (FileFormatException e) {
            throw new IllegalArgumentException(e.getMessage(), e);   // the message names the file
        }
    }

    static List<Epoch> readMetrics(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": missing");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        if (lines.isEmpty()) throw new IllegalArgumentException(file + ": empty (no header)");
        List<String> header = List.of(lines.get(0).split(","));
        int ep = col(file, header, "epoch"), trl = col(file, header, "train_loss"), tra = col(file, header, "train_accuracy"),
                tel = col(file, header, "test_loss"), tea = col(file, header, "test_accuracy"),
                sf = col(file, header, "sam_fraction"), sec = col(file, header, "seconds");
        List<Epoch> out = new ArrayList<>();
        for (int n = 1; n < lines.size(); n++) {
            String line = lines.get(n);
            if (line.isBlank()) continue;
            String[] f = line.split(",");
            try {
                out.add(new Epoch(Integer.parseInt(f[ep]), num(f[trl]), num(f[tra]), num(f[tel]), num(f[tea]), num(f[sf]), num(f[sec])));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": line " + (n + 1) + " is malformed: " + line);
            }
        }
        return List.copyOf(out);
    }

    private static int col(Path file, List<String> header, String name) {
        int i = header.indexOf(name);
        if (i < 0) throw new IllegalArgumentException(file + ": no '" + name + "' column");
        return i;
    }

    private static double num(String s) {
        return s.equals("NaN") || s.isEmpty() ? Double.NaN : Double.parseDouble(s);
    }

    private double summaryNumber(String key) {
        return summary.get(key) instanceof Number d ? d.doubleValue() : Double.NaN;
    }

    private double configNumber(String key, double missing) {
        Object v = config.get(key);
        return v instanceof Number d ? d.doubleValue() : missing;
    }

    public String optimizer() { return String.valueOf(summary.getOrDefault("optimizer", config.get("optimizer"))); }
    public String model() { return String.valueOf(summary.getOrDefault("model", config.get("model"))); }
    public long seed() { return (long) configNumber("seed", Double.NaN); }
    public double labelNoise() { return configNumber("label_noise", 0); }
    /** Training examples used: the subset size, or 0 for the whole set (and for runs from before the option). */
    public int trainSubset() { return (int) configNumber("train_subset", 0); }
    public int epochsPlanned() { return (int) configNumber("epochs", Double.NaN); }
    public double lr() { return configNumber("lr", Double.NaN); }
    public double testAccuracy() { return summaryNumber("test_accuracy"); }
    public double bestTestAccuracy() { return summaryNumber("best_test_accuracy"); }
    public double samFraction() { return summaryNumber("sam_fraction"); }
    public double wallSeconds() { return summaryNumber("wall_seconds"); }
    public long steps() { return (long) summaryNumber("steps"); }
    public double sssamP() { return configNumber("sssam_p", Double.NaN); }
    public double aeLambda1() { return configNumber("ae_lambda1", Double.NaN); }
    public double aeLambda2() { return configNumber("ae_lambda2", Double.NaN); }
    public double aeDelta() { return configNumber("ae_delta", Double.NaN); }

    /** The method as the papers write it, e.g. {@code AE-SAM}. */
    public String methodName() { return displayName(optimizer()); }

    /** The paper's spelling of an optimizer name ({@code aesam} → {@code AE-SAM}); unknown names unchanged. */
    public static String displayName(String optimizer) {
        return switch (optimizer.toLowerCase(Locale.ROOT)) {
            case "erm" -> "ERM";
            case "sam" -> "SAM";
            case "asam" -> "ASAM";
            case "esam" -> "ESAM";
            case "sssam" -> "SS-SAM";
            case "sssam-late" -> "SS-SAM (late)"; // a grid label: SS-SAM with p rising from 0, see scripts/reproduce
            case "looksam" -> "LookSAM";
            case "aesam" -> "AE-SAM";
            case "aelooksam" -> "AE-LookSAM";
            // A grid label: AE-LookSAM with its defaults (g_v expires), beside "aelooksam" run as the spec says.
            case "aelooksam-default" -> "AE-LookSAM (default)";
            case "msam" -> "MSAM";
            default -> optimizer;
        };
    }

    /** The method with the hyperparameters that distinguish it in a comparison (SS-SAM's p, AE-SAM's λ1/λ2/δ). */
    public String methodDetail() {
        return switch (optimizer()) {
            case "sssam" -> String.format(Locale.ROOT, "SS-SAM p=%.3f", sssamP());
            case "aesam", "aelooksam" -> String.format(Locale.ROOT, "%s l1=%s l2=%s d=%s", methodName(), g(aeLambda1()),
                    g(aeLambda2()), g(aeDelta()));
            default -> methodName();
        };
    }

    private static String g(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
