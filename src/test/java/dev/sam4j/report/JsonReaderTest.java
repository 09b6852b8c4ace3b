package dev.sam4j.report;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.train.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class JsonReaderTest {

    static LongStream seeds() { return LongStream.range(0, 25); }

    /** What the project's writer writes, the reader reads back exactly (doubles round-trip; NaN becomes null). */
    @ParameterizedTest
    @MethodSource("seeds")
    void readsBackWhatTheWriterWrites(long seed) {
        Random rnd = new Random(seed);
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) {
            String key = "k" + i + (rnd.nextBoolean() ? "\"q\\\n\t\u0001é" : "");
            Object v = switch (rnd.nextInt(6)) {
                case 0 -> rnd.nextGaussian() * Math.pow(10, rnd.nextInt(20) - 10);
                case 1 -> (double) rnd.nextInt(1000);
                case 2 -> rnd.nextBoolean();
                case 3 -> "s" + rnd.nextLong() + "\"\\/";
                case 4 -> null;
                default -> {
                    List<Object> l = new ArrayList<>();
                    for (int j = rnd.nextInt(4); j > 0; j--) l.add(rnd.nextDouble());
                    yield l;
                }
            };
            m.put(key, v);
        }
        assertEquals(m, JsonReader.parse(Json.write(m)));
        assertEquals(m, JsonReader.parse(Json.pretty(m)));
    }

    @Test
    void malformedInputNamesTheOffset() {
        for (String bad : new String[] {"{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"open", "tru", "{\"a\" 1}"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> JsonReader.parse(bad), bad);
            assertTrue(e.getMessage().contains("offset"), e.getMessage());
        }
        assertNull(JsonReader.parse("null"));
        assertEquals(-1.5e-7, JsonReader.parse(" -1.5e-7 "));
    }
}
