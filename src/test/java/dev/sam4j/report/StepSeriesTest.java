package dev.sam4j.report;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StepSeriesTest {
    @TempDir Path dir;

    /** The compact CSV keeps every step, the decision exactly, and the numbers to 6 significant digits. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void csvKeepsEveryStepOfTheJsonl(long seed) throws IOException {
        Random rnd = new Random(seed);
        StringBuilder b = new StringBuilder();
        int n = 50 + rnd.nextInt(50);
        for (int i = 0; i < n; i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", (long) i);
            m.put("epoch", 1);
            m.put("loss", rnd.nextDouble());
            m.put("s", Math.exp(rnd.nextGaussian()));
            m.put("mu", i == 0 ? Double.NaN : rnd.nextDouble());
            m.put("sigma", rnd.nextDouble());
            m.put("c", 1 - 2.0 * i / n);
            m.put("sam", rnd.nextBoolean());
            b.append(Json.write(m)).append('\n');
        }
        b.append("{\"step\":").append(n).append(",\"epo"); // a run killed mid-write
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.writeString(run.resolve("steps.jsonl"), b);
        StepSeries a = StepSeries.read(run);
        assertEquals(n, a.size());
        assertTrue(a.hasThreshold());
        Path other = dir.resolve("copy");
        Files.createDirectories(other);
        a.writeCsv(other.resolve("steps.csv"));
        StepSeries c = StepSeries.read(other);
        assertArrayEquals(a.step(), c.step());
        assertArrayEquals(a.sam(), c.sam());
        assertTrue(Double.isNaN(c.mu()[0]));
        for (int i = 0; i < n; i++) {
            assertEquals(a.s()[i], c.s()[i], 1e-5 * a.s()[i]);
            if (i > 0) assertEquals(a.threshold()[i], c.threshold()[i], 1e-5 * (1 + Math.abs(a.threshold()[i])));
        }
    }
}
