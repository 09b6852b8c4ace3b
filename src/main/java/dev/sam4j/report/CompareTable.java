package dev.sam4j.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The side-by-side table of {@code sam4j compare}: one row per run, columns aligned for a terminal. */
public final class CompareTable {
    static final String[] HEADER = {"run", "method", "model", "train", "noise", "seed", "epochs", "test acc", "best acc",
            "SAM frac", "wall s"};

    private CompareTable() { }

    public static String format(List<RunRecord> runs) {
        List<String[]> rows = new ArrayList<>();
        rows.add(HEADER);
        for (RunRecord r : runs) {
            rows.add(new String[] {
                String.valueOf(r.dir().getFileName()),
                r.methodDetail(),
                r.model(),
                r.trainSubset() > 0 ? String.valueOf(r.trainSubset()) : "all",
                String.format(Locale.ROOT, "%.2f", r.labelNoise()),
                String.valueOf(r.seed()),
                r.epochs().size() + "/" + r.epochsPlanned(),
                String.format(Locale.ROOT, "%.4f", r.testAccuracy()),
                String.format(Locale.ROOT, "%.4f", r.bestTestAccuracy()),
                String.format(Locale.ROOT, "%.3f", r.samFraction()),
                String.format(Locale.ROOT, "%.1f", r.wallSeconds()),
            });
        }
        int[] w = new int[HEADER.length];
        for (String[] row : rows) for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], row[i].length());
        StringBuilder b = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < w.length; i++) {
                // Text columns left-aligned, numbers right-aligned, so decimals line up.
                boolean left = i < 3;
                String cell = row[i];
                String pad = " ".repeat(w[i] - cell.length());
                b.append(left ? cell + pad : pad + cell);
                b.append(i + 1 < w.length ? "  " : "");
            }
            b.append('\n');
        }
        return b.toString();
    }
}
