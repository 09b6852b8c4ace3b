package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.io.JsonReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --precision} through the command line: {@code sam4j train} and {@code sam4j bench} take it, record it, and refuse a bad value in one line. */
class PrecisionCommandTest {

    @Test
    void trainInBf16RecordsItInEveryRunFile(@TempDir Path dir) throws Exception {
        MainTest.Outcome o = MainTest.run("train", "--data=fashion-mnist-sample", "--device=cpu", "--threads=2", "--max-steps=3",
                "--epochs=1", "--precision=bf16", "--out", dir.toString());
        assertEquals(0, o.code(), o.err());
        for (String f : List.of("config.json", "provenance.json", "summary.json")) {
            Map<?, ?> m = (Map<?, ?>) JsonReader.parse(Files.readString(dir.resolve(f)), f);
            assertEquals("bf16", m.get("precision"), f);
        }
    }

    @Test
    void aBadPrecisionIsOneClearLine(@TempDir Path dir) {
        MainTest.assertOneLineError(MainTest.run("train", "--data=fashion-mnist-sample", "--max-steps=1", "--precision=fp16",
                "--out", dir.resolve("r").toString()), "--precision");
        MainTest.assertOneLineError(MainTest.run("bench", "--device", "cpu-reference", "--precision", "int8"), "--precision");
    }

    @Test
    void benchLinesSayWhichPrecisionWasTimed() {
        MainTest.Outcome o = MainTest.run("bench", "--device", "cpu-reference", "--threads", "1", "--models", "mlp:8", "--input",
                "1,4,4", "--batch-size", "4", "--warmup", "1", "--steps", "2", "--optimizers", "erm,sam", "--precision", "bf16");
        assertEquals(0, o.code(), o.err());
        List<Map<String, Object>> lines = BenchToolingTest.parseLines(o.out());
        assertEquals(2, lines.size(), o.out());
        for (Map<String, Object> l : lines) assertEquals("bf16", l.get("precision"), l.toString());
        assertTrue(BenchToolingTest.parseLines(MainTest.run("bench", "--device", "cpu-reference", "--threads", "1", "--models",
                "mlp:8", "--input", "1,4,4", "--batch-size", "4", "--warmup", "0", "--steps", "1").out()).stream()
                .allMatch(l -> "fp32".equals(l.get("precision"))), "fp32 by default");
    }
}
