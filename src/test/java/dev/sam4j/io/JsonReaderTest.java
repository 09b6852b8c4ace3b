package dev.sam4j.io;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonReaderTest {

    @Test
    void parsesTheTypesSam4jWrites() {
        Object v = JsonReader.parse("{\"a\": [1, -2.5e3, true, null, \"x\\n\\u00e9\"], \"b\": {}, \"c\": 9223372036854775807}", "t");
        assertEquals(Map.of("a", java.util.Arrays.asList(1L, -2500.0, true, null, "x\né"), "b", Map.of(), "c", Long.MAX_VALUE), v);
        assertEquals(0.1, JsonReader.parse(Double.toString(0.1), "t"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "NaN", "Infinity", "tru", "\"a", "{\"a\" 1}",
            "{\"a\":1,\"a\":2}", "[1] 2", "\"\t\""})
    void rejectsWhatIsNotStrictJson(String text) {
        FileFormatException e = assertThrows(FileFormatException.class, () -> JsonReader.parse(text, "f.json"));
        assertTrue(e.getMessage().startsWith("f.json: malformed JSON"), e.getMessage());
    }

    @Test
    void deepNestingIsAnErrorNotAStackOverflow() {
        String deep = "[".repeat(100_000);
        assertTrue(assertThrows(FileFormatException.class, () -> JsonReader.parse(deep, "d")).getMessage().contains("nested deeper"));
        assertEquals(List.of(List.of()), JsonReader.parse("[[]]", "d"));
    }
}
