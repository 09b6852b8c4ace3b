package dev.sam4j.io;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SafeTensorsTest {

    private static SafeTensors.Writer sample() {
        float[] w = new float[6];
        for (int i = 0; i < w.length; i++) w[i] = i * 0.5f - 1f;
        return new SafeTensors.Writer().metadata("format", "pt").metadata("note", "a \"quoted\" value")
                .add("layers.1.weight", new long[] {2, 3}, w)
                .add("layers.1.bias", new long[] {2}, new float[] {Float.MIN_VALUE, -0f})
                .add("empty", new long[] {0, 4}, new float[0]);
    }

    private static byte[] bytes(SafeTensors.Writer w) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        w.writeTo(out);
        return out.toByteArray();
    }

    @Test
    void roundTripKeepsNamesShapesBitsAndMetadata(@TempDir Path dir) {
        Path f = dir.resolve("w.safetensors");
        sample().write(f);
        SafeTensors.Contents c = SafeTensors.read(f);
        assertEquals("pt", c.meta("format"));
        assertEquals("a \"quoted\" value", c.meta("note"));
        assertEquals(java.util.List.of("layers.1.weight", "layers.1.bias", "empty"), java.util.List.copyOf(c.entries().keySet()));
        assertArrayEquals(new long[] {2, 3}, c.entries().get("layers.1.weight").shape());
        assertArrayEquals(new float[] {-1f, -0.5f, 0f, 0.5f, 1f, 1.5f}, c.floats("layers.1.weight"));
        float[] b = c.floats("layers.1.bias");
        assertEquals(Float.floatToRawIntBits(Float.MIN_VALUE), Float.floatToRawIntBits(b[0]));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(b[1]));
        assertEquals(0, c.floats("empty").length);
        FileFormatException e = assertThrows(FileFormatException.class, () -> c.meta("absent"));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    /** The layout other tools expect: little-endian u64 length, JSON padded to 8 bytes, F32 LE data in order. */
    @Test
    void layoutIsTheSafetensorsLayout() throws Exception {
        byte[] b = bytes(sample());
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong();
        assertEquals(0, (8 + n) % 8, "data aligned to 8 bytes");
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\""), header);
        assertTrue(header.contains("\"layers.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertEquals(8 + n + 24 + 8, b.length);
        assertEquals(-1f, bb.order(ByteOrder.LITTLE_ENDIAN).getFloat((int) (8 + n)));
    }

    private static byte[] withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(h.length).put(h);
        return bb.array();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}|4|out of range",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}|8|needs 12",
        "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}|8|unknown dtype 'Q7'",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}|8|overlap",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}|8|belong to no tensor",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}|8|cover 4",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}|4|non-negative integers",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}|4|overflows",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}|4|unknown key",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}|4|two integers",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}|4|duplicate key",
        "{\"__metadata__\":{\"k\":1}}|0|not a string",
        "[1,2]|0|not a JSON object",
        "{\"a\":|0|malformed JSON",
        "{\"a\":NaN}|0|malformed JSON",
    })
    void hostileHeadersAreRejectedWithTheFileAndTheProblem(String json, int dataBytes, String expected, @TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, withHeader(json, dataBytes));
        FileFormatException e = assertThrows(FileFormatException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(longs = {-1L, 1L, 100_000_001L, Long.MAX_VALUE, 1L << 40})
    void forgedHeaderLengthsAllocateNothing(long n, @TempDir Path dir) throws Exception {
        Path f = dir.resolve("forged.safetensors");
        byte[] b = bytes(sample());
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
        Files.write(f, b);
        FileFormatException e = assertThrows(FileFormatException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains("header length"), e.getMessage());
    }

    @Test
    void missingTruncatedAndNonF32Files(@TempDir Path dir) throws Exception {
        assertTrue(assertThrows(FileFormatException.class, () -> SafeTensors.read(dir.resolve("none")))
                .getMessage().contains("no such file"));
        Path f = dir.resolve("t.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertTrue(assertThrows(FileFormatException.class, () -> SafeTensors.read(f)).getMessage().contains("truncated"));
        Files.write(f, withHeader("{\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8));
        SafeTensors.Contents c = SafeTensors.read(f);
        assertTrue(assertThrows(FileFormatException.class, () -> c.floats("n")).getMessage().contains("F32 tensors only"));
    }

    /**
     * Seeded fuzzing: random byte changes, insertions, deletions and truncations of a valid file. Whatever
     * the bytes, reading the header and every F32 tensor either works or ends in a {@link FileFormatException}
     * that names the file; nothing else may escape (no IndexOutOfBounds, NegativeArraySize, OutOfMemory...).
     */
    @ParameterizedTest
    @ValueSource(longs = {1L, 2L, 3L})
    void fuzzedFilesOnlyEverFailWithAFileFormatException(long seed) throws Exception {
        byte[] valid = bytes(sample());
        Random rnd = new Random(seed);
        Path f = Path.of("fuzz.safetensors"); // in memory: the name only appears in messages
        int cases = 3000, rejected = 0;
        for (int i = 0; i < cases; i++) {
            byte[] b = mutate(valid, rnd);
            try {
                SafeTensors.Contents c = SafeTensors.read(f, b);
                for (SafeTensors.Entry e : c.entries().values()) if (e.dtype().equals("F32")) c.floats(e.name());
            } catch (FileFormatException e) {
                rejected++;
                assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            }
        }
        System.out.printf("safetensors fuzz, seed %d: %d cases, %d rejected with a FileFormatException, %d read%n",
                seed, cases, rejected, cases - rejected);
        assertTrue(rejected > cases / 2, "most mutations must be caught, got " + rejected + " of " + cases);
    }

    static byte[] mutate(byte[] valid, Random rnd) {
        byte[] b = valid.clone();
        int kind = rnd.nextInt(6);
        switch (kind) {
            case 0 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length)); // truncation
            case 1 -> { // a few random bytes anywhere
                for (int k = 1 + rnd.nextInt(4); k > 0; k--) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
            case 2 -> { // a random byte in the header length or the JSON
                int hl = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
                b[rnd.nextInt(8 + hl)] = (byte) rnd.nextInt(256);
            }
            case 3 -> { // a JSON digit changed (shapes, offsets) to another digit
                int hl = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
                for (int tries = 0; tries < 100; tries++) {
                    int p = 8 + rnd.nextInt(hl);
                    if (b[p] >= '0' && b[p] <= '9') { b[p] = (byte) ('0' + rnd.nextInt(10)); break; }
                }
            }
            case 4 -> { // bytes inserted
                int p = rnd.nextInt(b.length), k = 1 + rnd.nextInt(8);
                byte[] c = new byte[b.length + k];
                System.arraycopy(b, 0, c, 0, p);
                for (int i = 0; i < k; i++) c[p + i] = (byte) rnd.nextInt(256);
                System.arraycopy(b, p, c, p + k, b.length - p);
                b = c;
            }
            default -> { // bytes deleted
                int p = rnd.nextInt(b.length), k = Math.min(b.length - p, 1 + rnd.nextInt(8));
                byte[] c = new byte[b.length - k];
                System.arraycopy(b, 0, c, 0, p);
                System.arraycopy(b, p + k, c, p, b.length - p - k);
                b = c;
            }
        }
        return b;
    }
}
