package dev.sam4j.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.GZIPOutputStream;

/** Builds IDX (and gzip'd IDX) byte images for tests and for {@link MakeFashionMnistSample}. */
final class IdxFiles {
    private IdxFiles() { }

    static byte[] images(int n, int rows, int cols, byte[] pixels) {
        return idx(IdxReader.IMAGES_MAGIC, new int[] {n, rows, cols}, pixels);
    }

    static byte[] labels(int[] labels) {
        byte[] b = new byte[labels.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) labels[i];
        return idx(IdxReader.LABELS_MAGIC, new int[] {labels.length}, b);
    }

    /** Any header (magic, dims) followed by any payload: also for forging hostile files. */
    static byte[] idx(int magic, int[] dims, byte[] payload) {
        ByteBuffer bb = ByteBuffer.allocate(4 + 4 * dims.length + payload.length); // big-endian, as IDX
        bb.putInt(magic);
        for (int d : dims) bb.putInt(d);
        bb.put(payload);
        return bb.array();
    }

    static byte[] gzip(byte[] raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
