package dev.sam4j.report;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareTableTest {
    @TempDir Path dir;

    @Test
    void oneAlignedRowPerRunWithTheNumbersOfItsSummary() throws IOException {
        RunRecord a = RunRecord.load(Fixtures.run(dir.resolve("a-erm"), "erm", "mlp", 0.2, 10000, 1, 0.81234, 0, 42.26, 3));
        RunRecord b = RunRecord.load(Fixtures.run(dir.resolve("b-aesam"), "aesam", "cnn", 0.4, 0, 2, 0.8, 0.4567, 100, 3));
        String out = CompareTable.format(List.of(a, b));
        List<String> lines = out.lines().toList();
        assertEquals(3, lines.size(), out);
        assertTrue(lines.get(0).startsWith("run "), out);
        assertTrue(lines.get(1).matches("a-erm +ERM +mlp +10000 +0\\.20 +1 +3/3 +0\\.8123 +0\\.8223 +0\\.000 +42\\.3"), lines.get(1));
        assertTrue(lines.get(2).matches("b-aesam +AE-SAM l1=-1 l2=1 d=0\\.9 +cnn +all +0\\.40 +2 +3/3 +0\\.8000 +0\\.8100 +0\\.457 +100\\.0"),
                lines.get(2));
        assertEquals(lines.get(0).length(), lines.get(1).length(), "columns aligned");
    }
}
