package dev.sam4j.data;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writers of small {@code .npy} and safetensors files for the tests, written from the formats' descriptions. */
final class ArrayFiles {
    private ArrayFiles() {}

    /** A version-1 .npy file; {@code data} must already be little-endian elements of {@code descr}. */
    static byte[] npy(String descr, long[] shape, byte[] data) {
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) sh.append(i > 0 ? ", " : "").append(shape[i]);
        if (shape.length == 1) sh.append(',');
        sh.append(')');
        StringBuilder h = new StringBuilder("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }");
        while ((10 + h.length() + 1) % 64 != 0) h.append(' ');
        h.append('\n');
        byte[] hb = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + hb.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) hb.length).put(hb).put(data);
        return b.array();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    static byte[] i64(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static byte[] i32(int... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putInt(x);
        return b.array();
    }

    /** A safetensors file of any dtypes: name -> (dtype, shape, bytes), in order. */
    static final class Safetensors {
        private final Map<String, Object[]> tensors = new LinkedHashMap<>();

        Safetensors add(String name, String dtype, long[] shape, byte[] data) {
            tensors.put(name, new Object[] {dtype, shape, data});
            return this;
        }

        byte[] bytes() {
            StringBuilder h = new StringBuilder("{");
            long off = 0;
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            for (Map.Entry<String, Object[]> e : tensors.entrySet()) {
                byte[] d = (byte[]) e.getValue()[2];
                if (h.length() > 1) h.append(',');
                h.append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(e.getValue()[0]).append("\",\"shape\":")
                        .append(Arrays.toString((long[]) e.getValue()[1]).replace(" ", "")).append(",\"data_offsets\":[")
                        .append(off).append(',').append(off + d.length).append("]}");
                off += d.length;
                body.writeBytes(d);
            }
            h.append('}');
            byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate(8 + hb.length + body.size()).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(hb.length).put(hb).put(body.toByteArray());
            return b.array();
        }
    }
}
