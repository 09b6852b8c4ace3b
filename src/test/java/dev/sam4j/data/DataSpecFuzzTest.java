package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random {@code --data} strings, built from the grammar's pieces (kinds, separators, numbers at
 * and past every limit, paths with control characters) and then mutated character by character. Each
 * must either parse to a spec that round-trips through {@link DataSpec#spec()}, or fail with the one
 * {@link IllegalArgumentException} that names the option and lists the valid forms: never a
 * NumberFormatException, an InvalidPathException or an overflow that lets an impossible size through.
 * Accepted synthetic specs must be loadable or, when they cannot fit the heap, refused before
 * anything is allocated.
 */
class DataSpecFuzzTest {
    static final int BATCHES = 6, CASES_PER_BATCH = 500;

    private static final String[] KINDS = {"fashion-mnist", "fashion-mnist-sample", "cifar10", "cifar100", "synthetic",
            "synthetic", "synthetic", "mnist", "", "SYNTHETIC", "cifar", "synthetic "};
    private static final String[] NUMBERS = {"0", "1", "2", "3", "8", "28", "-1", "+2", " 7 ", "00012", "65536", "65537", "4096",
            "2147483647", "2147483648", "2000000000", "1000000000", "300000000", "-2147483648", "99999999999999999999", "1e3", "0x10", "1_000", "\u0663", "\uFF17", "", "x"};
    private static final String[] PATHS = {"/data/x", "rel/dir", "c:d", "a\0b", "\n", " ", "\u00fc/\u4e2d", "../..", "//", "d\ty",
            "\u0000"};
    private static final String MUTATION_CHARS = ":,:,0123456789 -+\0\n\r\t\u00e9\u0663\uFEFF/";

    static IntStream batches() { return IntStream.range(0, BATCHES); }

    @ParameterizedTest
    @MethodSource("batches")
    void randomSpecsParseAndRoundTripOrFailClearly(int batch) {
        Path systemDir = Path.of("system-dir-for-the-test");
        List<String> failures = new ArrayList<>();
        int accepted = 0, rejected = 0, loaded = 0, refused = 0;
        for (int c = 0; c < CASES_PER_BATCH; c++) {
            long seed = batch * 1_000_003L + c;
            String spec = randomSpec(new Random(seed));
            String where = "seed " + seed + " '" + spec.replace("\0", "\\0").replace("\n", "\\n") + "'";
            DataSpec parsed;
            try {
                parsed = DataSpec.parse(spec, systemDir);
            } catch (Throwable t) {
                String m = t.getMessage();
                if (t.getClass() != IllegalArgumentException.class) failures.add(where + ": " + t);
                else if (!m.startsWith("invalid --data '") || !m.contains("Valid forms:")) failures.add(where + ": unclear: " + m);
                else if (m.lines().findFirst().orElseThrow().chars().anyMatch(Character::isISOControl)) {
                    failures.add(where + ": control characters in the message's first line: " + m);
                } else rejected++;
                continue;
            }
            accepted++;
            try {
                assertEquals(parsed, DataSpec.parse(parsed.spec(), systemDir), "round trip through " + parsed.spec());
                if (parsed instanceof DataSpec.SyntheticData s) {
                    double bytes = Synthetic.bytesNeeded(s.exampleShape(), s.classes(), s.trainN(), s.testN());
                    if (bytes <= 64 << 10) {
                        DataSplit d = s.load();
                        assertEquals(s.trainN(), d.train().size());
                        assertEquals(s.testN(), d.test().size());
                        loaded++;
                    } else if (bytes > Runtime.getRuntime().maxMemory()) {
                        String m = assertThrows(IllegalArgumentException.class, s::load).getMessage();
                        assertTrue(m.contains("heap limit"), m);
                        refused++;
                    }
                    // in between: legitimate, but too big to generate thousands of in a unit test
                }
            } catch (Throwable t) {
                failures.add(where + ": accepted as " + parsed + " but " + t);
            }
        }
        System.out.printf("DataSpecFuzzTest batch %d: %d specs, %d accepted (%d synthetic loaded, %d refused for the heap), %d rejected%n",
                batch, CASES_PER_BATCH, accepted, loaded, refused, rejected);
        assertTrue(failures.isEmpty(), failures.size() + " of " + CASES_PER_BATCH + " failed; the first:\n  "
                + String.join("\n  ", failures.subList(0, Math.min(12, failures.size()))));
        assertTrue(accepted > CASES_PER_BATCH / 20 && rejected > CASES_PER_BATCH / 20, "the generator should reach both outcomes");
    }

    static String randomSpec(Random r) {
        String kind = KINDS[r.nextInt(KINDS.length)];
        StringBuilder b = new StringBuilder(kind);
        if (r.nextInt(6) > 0) {
            b.append(':');
            if (kind.strip().equalsIgnoreCase("synthetic")) {
                int parts = r.nextInt(6);
                for (int p = 0; p < parts; p++) {
                    if (p > 0) b.append(':');
                    int n = p == 0 ? (r.nextInt(4) == 0 ? r.nextInt(5) : 3) : 1;
                    for (int i = 0; i < n; i++) {
                        if (i > 0) b.append(',');
                        b.append(r.nextInt(3) == 0 ? NUMBERS[r.nextInt(NUMBERS.length)] : Integer.toString(1 + r.nextInt(p == 0 ? 12 : 40)));
                    }
                }
            } else {
                b.append(PATHS[r.nextInt(PATHS.length)]);
            }
        }
        for (int k = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 0; k > 0; k--) { // character-level damage
            int at = r.nextInt(b.length() + 1);
            char ch = MUTATION_CHARS.charAt(r.nextInt(MUTATION_CHARS.length()));
            switch (r.nextInt(3)) {
                case 0 -> b.insert(at, ch);
                case 1 -> { if (at < b.length()) b.deleteCharAt(at); }
                default -> { if (at < b.length()) b.setCharAt(at, ch); }
            }
        }
        return b.toString();
    }
}
