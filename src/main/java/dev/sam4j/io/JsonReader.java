package dev.sam4j.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON parser (RFC 8259) for files sam4j reads back: objects become {@link LinkedHashMap}s
 * (duplicate keys are an error, since which one wins is ambiguous), arrays {@link ArrayList}s, integers
 * without fraction or exponent that fit a {@code long} become {@link Long}, other numbers {@link Double}.
 * Nesting is limited to {@value #MAX_DEPTH} levels so a hostile file cannot exhaust the stack.
 * {@code NaN} and {@code Infinity} are not JSON and are rejected like any other bad token.
 */
public final class JsonReader {
    /** Deeper nesting than any file of this project needs. */
    public static final int MAX_DEPTH = 64;

    private final String text;
    private final String source;
    private int pos;

    private JsonReader(String text, String source) {
        this.text = text;
        this.source = source;
    }

    /** Parses one JSON value filling all of {@code text} (whitespace aside); {@code source} names it in errors. */
    public static Object parse(String text, String source) {
        JsonReader r = new JsonReader(text, source);
        r.skipWhitespace();
        Object v = r.value(0);
        r.skipWhitespace();
        if (r.pos != text.length()) throw r.error("unexpected text after the JSON value");
        return v;
    }

    /** {@link #parse} for a text that must be a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text, String source) {
        Object v = parse(text, source);
        if (v instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new FileFormatException(source, "expected a JSON object, found " + (v == null ? "null" : v.getClass().getSimpleName()));
    }

    private FileFormatException error(String what) {
        return new FileFormatException(source, "malformed JSON at character " + pos + ": " + what);
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            pos++;
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
        if (pos >= text.length()) throw error("unexpected end of input");
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw error("unexpected character '" + printable(c) + "'");
            }
        };
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\u%04x", (int) c);
    }

    private Object literal(String word, Object v) {
        if (!text.startsWith(word, pos)) throw error("unknown literal");
        pos += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) {
        pos++; // {
        Map<String, Object> m = new LinkedHashMap<>();
        skipWhitespace();
        if (pos < text.length() && text.charAt(pos) == '}') { pos++; return m; }
        while (true) {
            skipWhitespace();
            if (pos >= text.length() || text.charAt(pos) != '"') throw error("expected a string key");
            String key = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            Object v = value(depth + 1);
            if (m.containsKey(key)) throw error("duplicate key \"" + key + "\"");
            m.put(key, v);
            skipWhitespace();
            if (pos >= text.length()) throw error("unexpected end of input in an object");
            char c = text.charAt(pos++);
            if (c == '}') return m;
            if (c != ',') { pos--; throw error("expected ',' or '}'"); }
        }
    }

    private List<Object> array(int depth) {
        pos++; // [
        List<Object> l = new ArrayList<>();
        skipWhitespace();
        if (pos < text.length() && text.charAt(pos) == ']') { pos++; return l; }
        while (true) {
            skipWhitespace();
            l.add(value(depth + 1));
            skipWhitespace();
            if (pos >= text.length()) throw error("unexpected end of input in an array");
            char c = text.charAt(pos++);
            if (c == ']') return l;
            if (c != ',') { pos--; throw error("expected ',' or ']'"); }
        }
    }

    private void expect(char c) {
        if (pos >= text.length() || text.charAt(pos) != c) throw error("expected '" + c + "'");
        pos++;
    }

    private String string() {
        pos++; // opening quote
        StringBuilder b = new StringBuilder();
        while (true) {
            if (pos >= text.length()) throw error("unterminated string");
            char c = text.charAt(pos++);
            if (c == '"') return b.toString();
            if (c < 0x20) { pos--; throw error("control character in a string"); }
            if (c != '\\') { b.append(c); continue; }
            if (pos >= text.length()) throw error("unterminated escape");
            char e = text.charAt(pos++);
            switch (e) {
                case '"' -> b.append('"');
                case '\\' -> b.append('\\');
                case '/' -> b.append('/');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) throw error("truncated \\u escape");
                    int v = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(text.charAt(pos++), 16);
                        if (d < 0) throw error("bad hex digit in a \\u escape");
                        v = v * 16 + d;
                    }
                    b.append((char) v);
                }
                default -> throw error("unknown escape \\" + printable(e));
            }
        }
    }

    private Object number() {
        int start = pos;
        if (text.charAt(pos) == '-') pos++;
        int intStart = pos;
        digits();
        if (pos - intStart > 1 && text.charAt(intStart) == '0') throw error("leading zero in a number");
        boolean integral = true;
        if (pos < text.length() && text.charAt(pos) == '.') {
            pos++;
            digits();
            integral = false;
        }
        if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            pos++;
            if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) pos++;
            digits();
            integral = false;
        }
        String s = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException tooLong) {
                // falls through: a whole number beyond long range is kept as a double
            }
        }
        return Double.parseDouble(s);
    }

    private void digits() {
        int start = pos;
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') pos++;
        if (pos == start) throw error("expected a digit");
    }
}
