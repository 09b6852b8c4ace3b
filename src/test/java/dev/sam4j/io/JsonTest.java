package dev.sam4j.io;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesValuesExactlyAndEscapesStrings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", 0.1);
        m.put("b", 3.0);
        m.put("n", Double.NaN);
        m.put("s", "q\"\\\n\u0001");
        m.put("l", List.of(1, true));
        m.put("z", null);
        assertEquals("{\"a\":0.1,\"b\":3.0,\"n\":null,\"s\":\"q\\\"\\\\\\n\\u0001\",\"l\":[1,true],\"z\":null}", Json.write(m));
    }
}
