package dev.sam4j.data;

import dev.sam4j.data.ArrayData.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * NumPy's {@code .npy} format (what {@code numpy.save} writes): the magic {@code \x93NUMPY}, a major and
 * minor version byte, the header length (2 bytes little-endian in version 1, 4 in versions 2 and 3), and
 * a header that is a Python dict literal {@code {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W, C), }}
 * padded with spaces and a newline, followed by the array in C order.
 *
 * <p>Read strictly, before anything sized by the file is allocated: the header is parsed by a small
 * grammar of its own (no general Python literal evaluation), the shape must multiply out without
 * overflow to exactly the bytes after the header (no truncation, no trailing bytes), Fortran order,
 * big-endian and object arrays are refused. The array returned is never larger than the file.
 */
public final class NpyReader {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy itself refuses headers above this size (it limits them to 10 000 bytes unless told otherwise). */
    static final int MAX_HEADER = 1 << 16;

    private NpyReader() {}

    /** Reads {@code file}; {@code what} names the array in messages ("images", "labels"). */
    public static ArrayData.Array read(Path file, String what) {
        String src = file.toString();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 10) throw new DataFileException(src, "truncated: " + size + " bytes, a .npy file starts with a 10-byte preamble");
            ByteBuffer pre = readAt(ch, 0, 12 <= size ? 12 : 10, src);
            for (int i = 0; i < MAGIC.length; i++) {
                if (pre.get(i) != MAGIC[i]) throw new DataFileException(src, "not a .npy file (no \\x93NUMPY magic)");
            }
            int major = pre.get(6) & 0xFF;
            long headerLen, headerStart;
            if (major == 1) {
                headerLen = pre.order(ByteOrder.LITTLE_ENDIAN).getShort(8) & 0xFFFF;
                headerStart = 10;
            } else if (major == 2 || major == 3) {
                if (size < 12) throw new DataFileException(src, "truncated: " + size + " bytes, a version " + major + " .npy file starts with a 12-byte preamble");
                headerLen = pre.order(ByteOrder.LITTLE_ENDIAN).getInt(8) & 0xFFFFFFFFL;
                headerStart = 12;
            } else {
                throw new DataFileException(src, ".npy format version " + major + " is not known (1, 2 or 3)");
            }
            if (headerLen > MAX_HEADER) throw new DataFileException(src, "header length " + headerLen + " is absurd (more than " + MAX_HEADER + " bytes)");
            if (headerStart + headerLen > size) throw new DataFileException(src, "truncated: header of " + headerLen + " bytes runs past the end of the file (" + size + " bytes)");
            ByteBuffer hb = readAt(ch, headerStart, (int) headerLen, src);
            // latin-1 for version 1 and 2 as numpy says; version 3 is utf-8, but the keys and values we accept are ASCII either way
            String header = new String(hb.array(), 0, (int) headerLen, StandardCharsets.ISO_8859_1);
            Header h = parseHeader(header, src);
            long dataStart = headerStart + headerLen;
            long elements = 1;
            for (long d : h.shape) {
                try {
                    elements = Math.multiplyExact(elements, d);
                } catch (ArithmeticException e) {
                    throw new DataFileException(src, "shape " + h.shapeText() + " overflows");
                }
            }
            long need;
            try {
                need = Math.multiplyExact(elements, (long) h.dtype.width);
            } catch (ArithmeticException e) {
                throw new DataFileException(src, "shape " + h.shapeText() + " overflows");
            }
            long have = size - dataStart;
            if (have < need) throw new DataFileException(src, "truncated: shape " + h.shapeText() + " of " + h.descr + " needs " + need + " data bytes, the file has " + have);
            if (have > need) throw new DataFileException(src, (have - need) + " bytes after the array of shape " + h.shapeText() + " (not a single .npy array)");
            if (need > IdxReader.MAX_PAYLOAD_BYTES) throw new DataFileException(src, "shape " + h.shapeText() + ": " + need + " bytes, more than one array holds");
            ByteBuffer data = readAt(ch, dataStart, (int) need, src);
            return new ArrayData.Array(src, what, h.dtype, h.shape, data.array());
        } catch (NoSuchFileException e) {
            throw new DataFileException(src, "no such file");
        } catch (IOException e) {
            throw new DataFileException(src, "cannot read: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer readAt(FileChannel ch, long pos, int n, String src) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new DataFileException(src, "truncated (changed while being read?)");
        }
        return b;
    }

    private record Header(String descr, DType dtype, long[] shape) {
        String shapeText() { return java.util.Arrays.toString(shape); }
    }

    /** The dict literal, by a grammar that takes what numpy writes (and other spacing / key orders), nothing more. */
    static Header parseHeader(String text, String src) {
        Map<String, Object> m = new HashMap<>();
        Parser p = new Parser(text, src);
        p.skipSpace();
        p.expect('{');
        p.skipSpace();
        while (!p.peek('}')) {
            String key = p.string();
            p.skipSpace();
            p.expect(':');
            p.skipSpace();
            Object v = p.value();
            if (m.put(key, v) != null) throw p.error("key '" + key + "' given twice");
            p.skipSpace();
            if (p.peek(',')) { p.pos++; p.skipSpace(); } else if (!p.peek('}')) throw p.error("expected ',' or '}'");
        }
        p.pos++;
        p.skipSpace();
        if (p.pos != text.length()) throw p.error("text after the header dict");
        if (!m.keySet().equals(java.util.Set.of("descr", "fortran_order", "shape"))) {
            throw new DataFileException(src, "header keys " + new java.util.TreeSet<>(m.keySet()) + " are not descr, fortran_order, shape");
        }
        if (!(m.get("descr") instanceof String descr)) throw new DataFileException(src, "header 'descr' is not a string (structured arrays are not images)");
        if (!(m.get("fortran_order") instanceof Boolean fo)) throw new DataFileException(src, "header 'fortran_order' is not True or False");
        if (fo) throw new DataFileException(src, "Fortran-ordered array; save it in C order (numpy.ascontiguousarray)");
        if (!(m.get("shape") instanceof long[] shape)) throw new DataFileException(src, "header 'shape' is not a tuple of integers");
        return new Header(descr, dtype(descr, src), shape);
    }

    private static DType dtype(String descr, String src) {
        if (descr.length() < 2) throw new DataFileException(src, "dtype '" + descr + "' is not known");
        char order = descr.charAt(0);
        String kind = descr.substring(1);
        DType t = switch (kind) {
            case "u1" -> DType.U8;
            case "i1" -> DType.I8;
            case "b1" -> DType.BOOL;
            case "i2" -> DType.I16;
            case "u2" -> DType.U16;
            case "f2" -> DType.F16;
            case "i4" -> DType.I32;
            case "u4" -> DType.U32;
            case "f4" -> DType.F32;
            case "i8" -> DType.I64;
            case "u8" -> DType.U64;
            case "f8" -> DType.F64;
            default -> throw new DataFileException(src, "dtype '" + descr + "' is not known");
        };
        boolean oneByte = t.width == 1;
        if (order == '>' && !oneByte) throw new DataFileException(src, "big-endian dtype '" + descr + "'; save it little-endian (astype('<" + kind + "'))");
        if (order != '<' && order != '|' && order != '=' && !(order == '>' && oneByte)) {
            throw new DataFileException(src, "dtype '" + descr + "' is not known");
        }
        if (order == '|' && !oneByte) throw new DataFileException(src, "dtype '" + descr + "' is not known");
        return t;
    }

    private static final class Parser {
        final String s;
        final String src;
        int pos;

        Parser(String s, String src) { this.s = s; this.src = src; }

        DataFileException error(String why) {
            return new DataFileException(src, "malformed header at character " + pos + ": " + why);
        }

        void skipSpace() { while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\n' || s.charAt(pos) == '\t')) pos++; }

        boolean peek(char c) { return pos < s.length() && s.charAt(pos) == c; }

        void expect(char c) {
            if (!peek(c)) throw error("expected '" + c + "'");
            pos++;
        }

        String string() {
            if (!peek('\'') && !peek('"')) throw error("expected a quoted string");
            char q = s.charAt(pos++);
            int start = pos;
            while (pos < s.length() && s.charAt(pos) != q) {
                char c = s.charAt(pos);
                if (c == '\\' || c < 0x20 || c > 0x7E) throw error("unexpected character in a string");
                pos++;
            }
            if (pos >= s.length()) throw error("unterminated string");
            return s.substring(start, pos++);
        }

        Object value() {
            if (peek('\'') || peek('"')) return string();
            if (s.startsWith("True", pos)) { pos += 4; return Boolean.TRUE; }
            if (s.startsWith("False", pos)) { pos += 5; return Boolean.FALSE; }
            if (peek('(')) {
                pos++;
                List<Long> dims = new ArrayList<>();
                skipSpace();
                while (!peek(')')) {
                    if (dims.size() >= 16) throw error("more than 16 dimensions");
                    dims.add(integer());
                    skipSpace();
                    if (peek(',')) { pos++; skipSpace(); } else if (!peek(')')) throw error("expected ',' or ')'");
                }
                pos++;
                long[] out = new long[dims.size()];
                for (int i = 0; i < out.length; i++) out[i] = dims.get(i);
                return out;
            }
            throw error("expected a string, True, False or a tuple");
        }

        long integer() {
            int start = pos;
            while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
            if (pos == start) throw error("expected a non-negative integer");
            if (pos - start > 18) throw error("dimension " + s.substring(start, pos) + " is absurd");
            return Long.parseLong(s.substring(start, pos));
        }
    }
}
