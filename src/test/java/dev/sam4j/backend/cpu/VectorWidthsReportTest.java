package dev.sam4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Says which CPU vector widths the suite covered. The build runs the CPU backend's agreement,
 * determinism and allocation tests once at the default width and again at 128 and 512 bits (pom.xml,
 * executions {@code cpu-vector-128} and {@code cpu-vector-512}); each run appends its width, or why it
 * was skipped, to the file named by {@code -Dsam4j.cpu.widthsLog} (the first run starts it afresh:
 * {@code -Dsam4j.cpu.widthsLog.first=true}), and prints the list so far. The last runs write to the
 * console (pom.xml), so the build output ends with e.g. {@code CPU vector widths covered: 256 (default),
 * 128; not run: 512 (...)}.
 */
class VectorWidthsReportTest {

    @Test
    void recordAndPrintTheWidthsCovered() throws IOException {
        String requested = System.getProperty(VectorWidths.PROPERTY);
        String entry = VectorWidths.problem() == null
                ? "ran " + VectorWidths.BITS + (requested == null ? " (default)" : "")
                : "skipped " + requested + " (" + VectorWidths.problem() + ")";
        String log = System.getProperty("sam4j.cpu.widthsLog");
        List<String> entries = List.of(entry);
        if (log != null) {
            Path p = Path.of(log);
            Files.createDirectories(p.toAbsolutePath().getParent());
            if (Boolean.getBoolean("sam4j.cpu.widthsLog.first")) Files.deleteIfExists(p);
            Files.writeString(p, entry + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            entries = Files.readAllLines(p, StandardCharsets.UTF_8);
        }
        StringBuilder ran = new StringBuilder(), skipped = new StringBuilder();
        for (String e : entries) {
            StringBuilder to = e.startsWith("ran ") ? ran : skipped;
            if (!to.isEmpty()) to.append(", ");
            to.append(e.substring(e.indexOf(' ') + 1));
        }
        System.out.println("CPU vector widths covered: " + ran + (skipped.isEmpty() ? "" : "; not run: " + skipped));
        assertEquals(entry, entries.getLast());
    }
}
