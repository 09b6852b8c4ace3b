package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigFileTest {

    static TrainConfig sample() {
        return TrainConfig.builder().model("cnn").optimizer("sssam").seed(-7).lr(0.1 / 3).maxSteps(1L << 40)
                .out(Path.of("runs", "x")).divergenceLoss(12.5).deterministic(true).build();
    }

    /** A run directory from before --deterministic existed resumes as it ran: without it. */
    @Test
    void aConfigWithoutDeterministicIsNotDeterministic(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("config.json");
        Files.writeString(f, Json.pretty(sample().toMap()).replace(",\n  \"deterministic\": true", ""));
        assertFalse(Files.readString(f).contains("deterministic"));
        assertFalse(ConfigFile.read(f).deterministic());
        assertEquals(sample().toBuilder().deterministic(false).build(), ConfigFile.read(f));
    }

    /**
     * A run directory from before --keep-last-batch and --looksam-max-age existed ran with the partial last batch and
     * a g_v that never expires: it resumes so, although both defaults are now different.
     */
    @Test
    void aConfigWithoutTheLastBatchAndMaxAgeKeysRunsAsBefore(@TempDir Path dir) throws Exception {
        TrainConfig now = sample().toBuilder().optimizer("aelooksam").hyper(dev.sam4j.optim.sam.Method.Hyper.defaults()).build();
        assertFalse(now.keepLastBatch());
        assertEquals(dev.sam4j.optim.sam.Method.AE_LOOKSAM_MAX_AGE, now.hyper().lookSamMaxAge());
        Path f = dir.resolve("config.json");
        String text = Json.pretty(now.toMap()).replaceAll(",\\n  \"(keep_last_batch|looksam_max_age|msam_rho)\": [^,\\n]*", "");
        assertFalse(text.contains("keep_last_batch") || text.contains("looksam_max_age"), text);
        Files.writeString(f, text);
        TrainConfig old = ConfigFile.read(f);
        assertTrue(old.keepLastBatch());
        assertEquals(0, old.hyper().lookSamMaxAge());
        // Written now, they read back as they were.
        Files.writeString(f, Json.pretty(now.toMap()));
        assertEquals(now, ConfigFile.read(f));
    }

    @Test
    void configJsonReadsBackToTheSameConfig(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("config.json");
        Files.writeString(f, Json.pretty(sample().toMap()));
        assertEquals(sample().toMap(), ConfigFile.read(f).toMap());
        assertEquals(sample(), ConfigFile.read(f));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"lr\": 0.05|\"lr\": 0.05, \"learning_rate\": 1|unknown key \"learning_rate\"",
        "\"epochs\": 10|\"epochs\": \"10\"|key \"epochs\" must be an integer in the 32-bit range, got a string",
        "\"epochs\": 10|\"epochs\": 1e10|key \"epochs\" must be an integer",
        "\"lr\": 0.05|\"lr\": 1e999|key \"lr\" must be a finite number, got the number Infinity",
        "\"lr\": 0.05|\"lr\": NaN|malformed JSON",
        "\"lr\": 0.05|\"lr\": -1|invalid value: --lr: must be a positive number",
        "\"nesterov\": false|\"nesterov\": 0|key \"nesterov\" must be true or false",
        "\"deterministic\": false|\"deterministic\": \"yes\"|key \"deterministic\" must be true or false",
        "\"seed\": 42,|                |missing key \"seed\"",
        "\"model\": \"mlp\"|\"model\": null|key \"model\" must be a string, got null",
    })
    void badConfigsNameTheFileAndTheKey(String from, String to, String expected, @TempDir Path dir) throws Exception {
        String good = Json.pretty(TrainConfig.builder().build().toMap());
        assertTrue(good.contains(from), from);
        Path f = dir.resolve("config.json");
        Files.writeString(f, good.replace(from, to == null ? "" : to.trim()));
        FileFormatException e = assertThrows(FileFormatException.class, () -> ConfigFile.read(f));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void missingFileSaysSo(@TempDir Path dir) {
        FileFormatException e = assertThrows(FileFormatException.class, () -> ConfigFile.read(dir.resolve("config.json")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    /** Random edits of a valid config: parsing works or fails with a FileFormatException, nothing else. */
    @ParameterizedTest
    @ValueSource(longs = {11L, 12L})
    void fuzzedConfigsOnlyEverFailWithAFileFormatException(long seed) {
        String good = Json.pretty(sample().toMap());
        Random rnd = new Random(seed);
        String alphabet = "{}[]\":,.-+eE0123456789 \\tnulfrs";
        int rejected = 0, cases = 1000;
        for (int i = 0; i < cases; i++) {
            StringBuilder b = new StringBuilder(good);
            for (int k = 1 + rnd.nextInt(3); k > 0 && b.length() > 0; k--) {
                int p = rnd.nextInt(b.length());
                switch (rnd.nextInt(3)) {
                    case 0 -> b.setCharAt(p, alphabet.charAt(rnd.nextInt(alphabet.length())));
                    case 1 -> b.deleteCharAt(p);
                    default -> b.insert(p, alphabet.charAt(rnd.nextInt(alphabet.length())));
                }
            }
            try {
                ConfigFile.parse(b.toString(), "config.json");
            } catch (FileFormatException e) {
                rejected++;
                assertTrue(e.getMessage().startsWith("config.json: "), e.getMessage());
            }
        }
        System.out.printf("config.json fuzz, seed %d: %d cases, %d rejected with a FileFormatException, %d read%n",
                seed, cases, rejected, cases - rejected);
        assertTrue(rejected > cases / 2, "rejected " + rejected);
    }
}
