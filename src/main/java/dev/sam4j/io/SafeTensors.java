package dev.sam4j.io;

import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (as read by PyTorch's and Hugging Face's tools): an 8-byte little-endian header
 * length {@code N}, {@code N} bytes of UTF-8 JSON
 * {@code {"__metadata__": {string: string}, "NAME": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}}
 * and then the data, each tensor row-major little-endian at {@code [b, e)} of the data section.
 *
 * <p>sam4j writes F32 tensors only. The reader checks everything before it allocates anything sized by
 * the file: the header length against the file size and a fixed limit, the JSON strictly, every dtype,
 * shape and offset, and that the tensors tile the data section exactly (no overlap, no hole, no trailing
 * bytes). Data are read lazily, one tensor at a time, so an array is never larger than the file.
 */
public final class SafeTensors {
    /** The reference implementation's limit on the header; anything larger is forged or broken. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1),
            Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I32", 4), Map.entry("U32", 4), Map.entry("F32", 4),
            Map.entry("I64", 8), Map.entry("U64", 8), Map.entry("F64", 8));

    private SafeTensors() {}

    /** One tensor's header entry; {@code begin} and {@code end} are offsets into the data section. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public String shapeString() { return Arrays.toString(shape); }
    }

    // ---- writing -------------------------------------------------------------------------------

    /** Collects F32 tensors (in order) and string metadata, then writes them atomically. */
    public static final class Writer {
        private final Map<String, long[]> shapes = new LinkedHashMap<>();
        private final Map<String, float[]> data = new LinkedHashMap<>();
        private final Map<String, String> metadata = new LinkedHashMap<>();

        public Writer add(String name, long[] shape, float[] values) {
            if (name.equals("__metadata__") || name.isEmpty()) throw new IllegalArgumentException("reserved tensor name '" + name + "'");
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            if (n != values.length) throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " needs " + n + " values, got " + values.length);
            if (shapes.put(name, shape.clone()) != null) throw new IllegalArgumentException("duplicate tensor name " + name);
            data.put(name, values);
            return this;
        }

        public Writer metadata(String key, String value) {
            metadata.put(key, value);
            return this;
        }

        /** The header JSON, padded with spaces to a multiple of 8 bytes so the data are aligned. */
        byte[] header() {
            StringBuilder b = new StringBuilder("{");
            if (!metadata.isEmpty()) {
                b.append("\"__metadata__\":{");
                boolean first = true;
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    if (!first) b.append(',');
                    first = false;
                    quote(b, e.getKey()).append(':');
                    quote(b, e.getValue());
                }
                b.append('}');
            }
            long offset = 0;
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                if (b.length() > 1) b.append(',');
                long bytes = 4L * data.get(e.getKey()).length;
                quote(b, e.getKey()).append(":{\"dtype\":\"F32\",\"shape\":[");
                long[] s = e.getValue();
                for (int i = 0; i < s.length; i++) b.append(i > 0 ? "," : "").append(s[i]);
                b.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
                offset += bytes;
            }
            b.append('}');
            while ((b.toString().getBytes(StandardCharsets.UTF_8).length & 7) != 0) b.append(' ');
            return b.toString().getBytes(StandardCharsets.UTF_8);
        }

        /** Writes the file with {@link AtomicFiles}: a kill at any moment leaves the previous file intact. */
        public void write(Path file) {
            AtomicFiles.write(file, this::writeTo);
        }

        void writeTo(OutputStream out) throws IOException {
            byte[] h = header();
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            buf.putLong(h.length);
            out.write(buf.array(), 0, 8);
            out.write(h);
            for (float[] v : data.values()) {
                int i = 0;
                while (i < v.length) {
                    buf.clear();
                    int m = Math.min(v.length - i, buf.capacity() / 4);
                    buf.asFloatBuffer().put(v, i, m);
                    out.write(buf.array(), 0, m * 4);
                    i += m;
                }
            }
        }
    }

    private static StringBuilder quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"');
    }

    // ---- reading -------------------------------------------------------------------------------

    /** A parsed and validated file: its metadata and tensor entries; {@link #floats} reads one tensor. */
    public static final class Contents {
        private final Path path;
        private final Source source;
        private final long dataStart;
        private final long fileSize;
        private final Map<String, String> metadata;
        private final Map<String, Entry> entries;

        private Contents(Path path, Source source, long dataStart, long fileSize, Map<String, String> metadata, Map<String, Entry> entries) {
            this.path = path;
            this.source = source;
            this.dataStart = dataStart;
            this.fileSize = fileSize;
            this.metadata = Collections.unmodifiableMap(metadata);
            this.entries = Collections.unmodifiableMap(entries);
        }

        public Path path() { return path; }
        public Map<String, String> metadata() { return metadata; }
        /** Tensor entries in header order. */
        public Map<String, Entry> entries() { return entries; }
        public boolean has(String name) { return entries.containsKey(name); }

        /** A metadata value, or a clear error naming the file and the key when it is absent. */
        public String meta(String key) {
            String v = metadata.get(key);
            if (v == null) throw new FileFormatException(path.toString(), "metadata has no \"" + key + "\"");
            return v;
        }

        /** The F32 tensor {@code name}, read from the file now. */
        public float[] floats(String name) {
            Entry e = entry(name);
            if (!e.dtype().equals("F32")) {
                throw new FileFormatException(path.toString(), "tensor '" + name + "' is " + e.dtype() + "; sam4j reads F32 tensors only");
            }
            long n = e.elements();
            if (n > MAX_ARRAY) throw new FileFormatException(path.toString(), "tensor '" + name + "' has " + n + " elements, more than one array holds");
            float[] out = new float[(int) n];
            int[] done = {0};
            stream(e, 4, b -> {
                int m = b.remaining() / 4;
                b.asFloatBuffer().get(out, done[0], m);
                done[0] += m;
            });
            return out;
        }

        /**
         * The raw little-endian bytes of tensor {@code name} of any dtype, read from the file now (for
         * readers of data sets, which convert them themselves). The array is never larger than the file:
         * the header check made the tensor's byte range lie inside it.
         */
        public byte[] bytes(String name) {
            Entry e = entry(name);
            long n = e.end() - e.begin();
            if (n > MAX_ARRAY) throw new FileFormatException(path.toString(), "tensor '" + name + "' has " + n + " bytes, more than one array holds");
            byte[] out = new byte[(int) n];
            int[] done = {0};
            stream(e, 1, b -> {
                int m = b.remaining();
                b.get(out, done[0], m);
                done[0] += m;
            });
            return out;
        }

        private Entry entry(String name) {
            Entry e = entries.get(name);
            if (e == null) throw new FileFormatException(path.toString(), "no tensor named '" + name + "'");
            return e;
        }

        /** Hands the tensor's bytes to {@code sink} in chunks that are whole multiples of {@code unit}. */
        private void stream(Entry e, int unit, java.util.function.Consumer<ByteBuffer> sink) {
            long total = e.end() - e.begin();
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(1 << 16, Math.max(unit, total))).order(ByteOrder.LITTLE_ENDIAN);
            try (Source ch = source.reopen()) {
                if (ch.size() != fileSize) throw new FileFormatException(path.toString(), "changed size while being read");
                long pos = dataStart + e.begin(), left = total;
                while (left > 0) {
                    buf.clear();
                    buf.limit((int) Math.min(buf.capacity(), left));
                    while (buf.hasRemaining()) {
                        int r = ch.read(buf, pos);
                        if (r < 0) throw new EOFException();
                        pos += r;
                    }
                    buf.flip();
                    left -= buf.remaining();
                    sink.accept(buf);
                }
            } catch (EOFException ex) {
                throw new FileFormatException(path.toString(), "truncated while reading tensor '" + e.name() + "'", ex);
            } catch (IOException ex) {
                throw new FileFormatException(path.toString(), "cannot read tensor '" + e.name() + "': " + ex.getMessage(), ex);
            }
        }
    }

    /** Reads and validates the header of {@code file}; see the class comment for what is checked. */
    public static Contents read(Path file) {
        try (Source ch = Source.of(file)) {
            return read(file, ch);
        } catch (NoSuchFileException e) {
            throw new FileFormatException(file.toString(), "no such file");
        } catch (IOException e) {
            throw new FileFormatException(file.toString(), "cannot read: " + e.getMessage(), e);
        }
    }

    /** The same checks on bytes in memory ({@code name} stands for the file in messages). */
    static Contents read(Path name, byte[] bytes) {
        try (Source ch = Source.of(bytes)) {
            return read(name, ch);
        } catch (IOException e) {
            throw new FileFormatException(name.toString(), "cannot read: " + e.getMessage(), e);
        }
    }

    private static Contents read(Path file, Source ch) throws IOException {
        String src = file.toString();
        long size = ch.size();
        if (size < 8) throw new FileFormatException(src, "truncated: " + size + " bytes, a safetensors file starts with an 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, src);
        long n = lenBuf.flip().getLong();
        if (n < 2 || n > MAX_HEADER_BYTES) {
            throw new FileFormatException(src, "header length " + Long.toUnsignedString(n) + " is absurd (a header is 2 to " + MAX_HEADER_BYTES + " bytes)");
        }
        if (n > size - 8) throw new FileFormatException(src, "header length " + n + " exceeds the file (" + size + " bytes): truncated or not safetensors");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8, src);
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
        } catch (CharacterCodingException e) {
            throw new FileFormatException(src, "header is not valid UTF-8");
        }
        return parseHeader(file, ch, JsonReader.parse(json, src + " header"), 8 + n, size);
    }

    /** Where the bytes are: a file (reopened for each tensor) or an array. */
    private interface Source extends AutoCloseable {
        long size() throws IOException;
        int read(ByteBuffer b, long pos) throws IOException;
        Source reopen() throws IOException;
        @Override void close() throws IOException;

        static Source of(Path file) throws IOException {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            return new Source() {
                public long size() throws IOException { return ch.size(); }
                public int read(ByteBuffer b, long pos) throws IOException { return ch.read(b, pos); }
                public Source reopen() throws IOException { return of(file); }
                public void close() throws IOException { ch.close(); }
            };
        }

        static Source of(byte[] bytes) {
            return new Source() {
                public long size() { return bytes.length; }
                public int read(ByteBuffer b, long pos) {
                    if (pos >= bytes.length) return -1;
                    int n = (int) Math.min(b.remaining(), bytes.length - pos);
                    b.put(bytes, (int) pos, n);
                    return n;
                }
                public Source reopen() { return this; }
                public void close() {}
            };
        }
    }

    private static void readFully(Source ch, ByteBuffer b, long pos, String src) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) throw new FileFormatException(src, "truncated header");
            pos += r;
        }
    }

    private static Contents parseHeader(Path file, Source source, Object json, long dataStart, long fileSize) {
        String src = file.toString();
        if (!(json instanceof Map<?, ?> top)) throw new FileFormatException(src, "header is not a JSON object");
        long dataLen = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<?, ?> kv : top.entrySet()) {
            String name = (String) kv.getKey();
            if (name.equals("__metadata__")) {
                if (!(kv.getValue() instanceof Map<?, ?> m)) throw new FileFormatException(src, "__metadata__ is not an object");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String s)) {
                        throw new FileFormatException(src, "__metadata__ value of \"" + me.getKey() + "\" is not a string");
                    }
                    metadata.put((String) me.getKey(), s);
                }
                continue;
            }
            entries.put(name, entry(src, name, kv.getValue(), dataLen));
        }
        List<Entry> byOffset = new ArrayList<>(entries.values());
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        String previous = null;
        for (Entry e : byOffset) {
            if (e.begin() < expected) throw new FileFormatException(src, "tensors '" + previous + "' and '" + e.name() + "' overlap");
            if (e.begin() > expected) throw new FileFormatException(src, "data bytes " + expected + ".." + e.begin() + " belong to no tensor");
            expected = e.end();
            previous = e.name();
        }
        if (expected != dataLen) {
            throw new FileFormatException(src, "the data section has " + dataLen + " bytes but the tensors cover " + expected);
        }
        return new Contents(file, source, dataStart, fileSize, metadata, entries);
    }

    private static Entry entry(String src, String name, Object v, long dataLen) {
        String what = "tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) throw new FileFormatException(src, what + " is not an object");
        for (Object k : m.keySet()) {
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets")) {
                throw new FileFormatException(src, what + " has unknown key \"" + k + "\"");
            }
        }
        if (!(m.get("dtype") instanceof String dtype)) throw new FileFormatException(src, what + ": dtype missing or not a string");
        Integer width = DTYPE_BYTES.get(dtype);
        if (width == null) throw new FileFormatException(src, what + ": unknown dtype '" + dtype + "'");
        if (!(m.get("shape") instanceof List<?> shapeList)) throw new FileFormatException(src, what + ": shape missing or not an array");
        if (shapeList.size() > 16) throw new FileFormatException(src, what + ": shape has " + shapeList.size() + " dimensions");
        long[] shape = new long[shapeList.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0) {
                throw new FileFormatException(src, what + ": shape " + shapeList + " is not a list of non-negative integers");
            }
            shape[i] = d;
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw new FileFormatException(src, what + ": shape " + shapeList + " overflows");
            }
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2
                || !(off.get(0) instanceof Long begin) || !(off.get(1) instanceof Long end)) {
            throw new FileFormatException(src, what + ": data_offsets missing or not two integers");
        }
        if (begin < 0 || end < begin || end > dataLen) {
            throw new FileFormatException(src, what + ": data_offsets [" + begin + ", " + end + "] out of range of the "
                    + dataLen + "-byte data section");
        }
        long need;
        try {
            need = Math.multiplyExact(elements, (long) width);
        } catch (ArithmeticException e) {
            throw new FileFormatException(src, what + ": shape " + shapeList + " overflows");
        }
        if (end - begin != need) {
            throw new FileFormatException(src, what + ": data_offsets hold " + (end - begin) + " bytes, shape " + shapeList
                    + " of " + dtype + " needs " + need);
        }
        return new Entry(name, dtype, shape, begin, end);
    }
}
