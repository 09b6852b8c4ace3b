package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads IDX files, the format of MNIST and Fashion-MNIST: a 4-byte big-endian magic
 * {@code 0x0000TTDD} (TT = element type, DD = number of dimensions), DD big-endian 32-bit dimensions,
 * then the elements row-major. Only unsigned-byte files are accepted: images {@code 0x00000803}
 * {@code [n, rows, cols]} and labels {@code 0x00000801} {@code [n]}. Files may be gzip'd; that is
 * detected from the gzip magic {@code 1f 8b}, not from the name.
 *
 * <p>Every file is treated as hostile: whatever it holds, the reader either returns consistent data or
 * throws {@link DataFileException} naming the file and the problem. A forged header cannot make it
 * allocate much more than the file really holds: raw files are checked against their length before
 * anything is allocated, and streams (gzip, or an {@link InputStream} of unknown length) grow their
 * buffer only as bytes arrive, from a small first chunk, so memory stays within a few times the data
 * actually present. Gzip is decoded by {@link GzipStream}, which checks every member's CRC-32 and length
 * and rejects bytes appended after the last member (the JDK's own gzip stream ignores them).
 */
public final class IdxReader {
    public static final int IMAGES_MAGIC = 0x00000803;
    public static final int LABELS_MAGIC = 0x00000801;

    /** The JVM's practical array limit: no single IDX payload can be larger than one byte[]. */
    static final long MAX_PAYLOAD_BYTES = Integer.MAX_VALUE - 8;
    /**
     * First allocation for a payload whose size is only declared (gzip, or a stream of unknown length);
     * doubled as data arrives. Small, so that a forged header on a small file costs little; doubling
     * keeps the copying of a large file at about one extra pass whatever the start.
     */
    private static final int INITIAL_CHUNK = 1 << 16;
    /** Read buffer for streams and large files. */
    private static final int STREAM_BUFFER = 1 << 16;

    private IdxReader() { }

    /** An IDX image file: {@code count} images of {@code rows × cols} unsigned bytes, row-major. */
    public record Images(int count, int rows, int cols, byte[] pixels) {
        public Images {
            if ((long) count * rows * cols != pixels.length) {
                throw new IllegalArgumentException(count + "×" + rows + "×" + cols + " images but " + pixels.length + " bytes");
            }
        }
    }

    public static Images readImages(Path file) {
        try (InputStream in = open(file)) {
            return readImages(in, file.toString(), fileLength(file));
        } catch (IOException e) {
            throw ioFailure(file.toString(), e);
        }
    }

    /** Reads an image file from a stream (raw or gzip'd); {@code name} is used in error messages. */
    public static Images readImages(InputStream in, String name) {
        return readImages(in, name, -1);
    }

    public static int[] readLabels(Path file) {
        try (InputStream in = open(file)) {
            return readLabels(in, file.toString(), fileLength(file));
        } catch (IOException e) {
            throw ioFailure(file.toString(), e);
        }
    }

    /** Reads a label file from a stream (raw or gzip'd); labels are returned as 0..255. */
    public static int[] readLabels(InputStream in, String name) {
        return readLabels(in, name, -1);
    }

    /** Reads a matching image and label file into a single-channel dataset, checking counts and label range. */
    public static Dataset readDataset(Path images, Path labels, int classes, String name) {
        return toDataset(readImages(images), images.toString(), readLabels(labels), labels.toString(), classes, name);
    }

    /** As {@link #readDataset(Path, Path, int, String)}, from streams with display names. */
    public static Dataset readDataset(InputStream images, String imagesName, InputStream labels, String labelsName,
                                      int classes, String name) {
        return toDataset(readImages(images, imagesName), imagesName, readLabels(labels, labelsName), labelsName, classes, name);
    }

    static Dataset toDataset(Images images, String imagesName, int[] labels, String labelsName, int classes, String name) {
        if (classes < 1 || classes > 256) throw new IllegalArgumentException("classes must be in [1, 256], got " + classes);
        if (labels.length != images.count()) {
            throw new DataFileException(labelsName, "holds " + labels.length + " labels but " + imagesName
                    + " holds " + images.count() + " images");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] >= classes) {
                throw new DataFileException(labelsName, "label " + labels[i] + " of example " + i
                        + " is out of range for " + classes + " classes (expected 0.." + (classes - 1) + ")");
            }
        }
        return new Dataset(name, Shape.of(1, images.rows(), images.cols()), classes, images.pixels(), labels);
    }

    // ---------------------------------------------------------------------------------------------

    private static Images readImages(InputStream in, String name, long knownLength) {
        Payload p = read(in, name, knownLength, IMAGES_MAGIC);
        return new Images(p.dims[0], p.dims[1], p.dims[2], p.data);
    }

    private static int[] readLabels(InputStream in, String name, long knownLength) {
        byte[] b = read(in, name, knownLength, LABELS_MAGIC).data;
        int[] labels = new int[b.length];
        for (int i = 0; i < b.length; i++) labels[i] = b[i] & 0xFF;
        return labels;
    }

    private record Payload(int[] dims, byte[] data) { }

    /**
     * @param knownLength the raw file length when it is a plain (not gzip'd) file of known size, else -1;
     *                    with it, a header that disagrees with the file is rejected before allocating
     */
    private static Payload read(InputStream raw, String name, long knownLength, int expectedMagic) {
        // Buffers no larger than the file itself: a tiny hostile file costs a tiny read.
        int bufferSize = knownLength >= 0 ? (int) Math.clamp(knownLength, 512, STREAM_BUFFER) : STREAM_BUFFER;
        try (InputStream buffered = new BufferedInputStream(raw, bufferSize)) {
            buffered.mark(2);
            int b0 = buffered.read(), b1 = buffered.read();
            buffered.reset();
            if (!GzipStream.isGzipMagic(b0, b1)) return readIdx(buffered, name, knownLength, expectedMagic);
            // The decompressed length is unknown (the gzip trailer's size field is forgeable and only
            // checked at the end), so the payload is read incrementally below.
            try (InputStream gz = new GzipStream(buffered, name, bufferSize)) {
                return readIdx(gz, name, -1, expectedMagic);
            }
        } catch (IOException e) {
            throw ioFailure(name, e);
        }
    }

    private static Payload readIdx(InputStream in, String name, long knownLength, int expectedMagic) throws IOException {
        int expectedRank = expectedMagic & 0xFF;
        String kind = expectedMagic == IMAGES_MAGIC ? "image" : "label";

        byte[] head = new byte[4];
        int got = in.readNBytes(head, 0, 4);
        if (got < 4) throw new DataFileException(name, "truncated: " + got + " bytes, too short for the 4-byte IDX magic");
        int magic = ((head[0] & 0xFF) << 24) | ((head[1] & 0xFF) << 16) | ((head[2] & 0xFF) << 8) | (head[3] & 0xFF);
        if (magic != expectedMagic) throw new DataFileException(name, describeBadMagic(magic, expectedMagic, kind));

        byte[] dimBytes = new byte[4 * expectedRank];
        got = in.readNBytes(dimBytes, 0, dimBytes.length);
        if (got < dimBytes.length) {
            throw new DataFileException(name, "truncated: the header ends after " + (4 + got) + " bytes; an IDX "
                    + kind + " file needs " + (4 + dimBytes.length));
        }
        long[] dims = new long[expectedRank];
        BigInteger declaredExact = BigInteger.ONE; // up to (2^32-1)^3: computed exactly, never allocated
        for (int i = 0; i < expectedRank; i++) {
            dims[i] = (((dimBytes[4 * i] & 0xFFL) << 24) | ((dimBytes[4 * i + 1] & 0xFF) << 16)
                    | ((dimBytes[4 * i + 2] & 0xFF) << 8) | (dimBytes[4 * i + 3] & 0xFF));
            declaredExact = declaredExact.multiply(BigInteger.valueOf(dims[i]));
        }
        String dimText = Arrays.toString(dims);
        for (long d : dims) {
            if (d == 0) throw new DataFileException(name, "dimensions " + dimText + " contain a zero: no data");
        }
        if (declaredExact.compareTo(BigInteger.valueOf(MAX_PAYLOAD_BYTES)) > 0) {
            throw new DataFileException(name, "absurd dimensions " + dimText + ": " + declaredExact
                    + " bytes, beyond the " + MAX_PAYLOAD_BYTES + "-byte limit of one array");
        }
        long declared = declaredExact.longValueExact();
        long headerBytes = 4 + dimBytes.length;
        if (knownLength >= 0 && knownLength - headerBytes != declared) {
            throw new DataFileException(name, "dimensions " + dimText + " declare " + declared + " bytes of data, but the "
                    + "file has " + (knownLength - headerBytes) + " after its " + headerBytes + "-byte header ("
                    + (knownLength - headerBytes < declared ? "truncated" : "trailing bytes") + ")");
        }
        requireHeap(name, "dimensions " + dimText + " declare " + declared + " bytes of data",
                declared * (expectedMagic == LABELS_MAGIC ? 5 : knownLength >= 0 ? 1 : 2));

        // A raw file's length was just checked against the header, so its payload can be allocated at once.
        byte[] data = readExactly(in, name, (int) declared, dimText, knownLength >= 0 ? (int) declared : INITIAL_CHUNK);
        if (in.read() >= 0) {
            throw new DataFileException(name, "trailing bytes after the " + declared + " declared by dimensions " + dimText);
        }
        int[] intDims = new int[expectedRank];
        for (int i = 0; i < expectedRank; i++) intDims[i] = (int) dims[i]; // each ≤ product ≤ MAX_PAYLOAD_BYTES
        return new Payload(intDims, data);
    }

    /** Reads {@code n} bytes, allocating only as they arrive (see the class comment). */
    private static byte[] readExactly(InputStream in, String name, int n, String dimText, int firstChunk) throws IOException {
        byte[] buf = new byte[Math.min(n, firstChunk)];
        int filled = 0;
        while (filled < n) {
            if (filled == buf.length) buf = Arrays.copyOf(buf, (int) Math.min(n, 2L * buf.length));
            int r = in.read(buf, filled, buf.length - filled);
            if (r < 0) {
                throw new DataFileException(name, "truncated: dimensions " + dimText + " declare " + n
                        + " bytes of data but only " + filled + " follow the header");
            }
            filled += r;
        }
        return buf;
    }

    private static String describeBadMagic(int magic, int expectedMagic, String kind) {
        String found = String.format("0x%08X", magic);
        String expected = String.format("0x%08X", expectedMagic);
        if ((magic >>> 16) != 0) {
            return "not an IDX file (magic " + found + "; an IDX " + kind + " file starts with " + expected + ")";
        }
        int type = (magic >>> 8) & 0xFF;
        int rank = magic & 0xFF;
        if (type != 0x08) {
            return "IDX data type 0x" + String.format("%02X", type) + " (" + typeName(type)
                    + ") is not supported; expected 0x08 (unsigned byte)";
        }
        if (magic == IMAGES_MAGIC || magic == LABELS_MAGIC) {
            return "is an IDX " + (magic == IMAGES_MAGIC ? "image" : "label") + " file (magic " + found
                    + ") but an IDX " + kind + " file (" + expected + ") was expected; are the files swapped?";
        }
        return "IDX file with " + rank + " dimensions (magic " + found + "); an IDX " + kind + " file has "
                + (expectedMagic & 0xFF) + " (" + expected + ")";
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0x08 -> "unsigned byte";
            case 0x09 -> "signed byte";
            case 0x0B -> "16-bit integer";
            case 0x0C -> "32-bit integer";
            case 0x0D -> "32-bit float";
            case 0x0E -> "64-bit float";
            default -> "unknown type";
        };
    }

    // ---- shared with the other readers ----------------------------------------------------------

    static InputStream open(Path file) {
        try {
            if (Files.isDirectory(file)) throw new DataFileException(file.toString(), "is a directory, expected a file");
            return Files.newInputStream(file);
        } catch (IOException e) {
            throw ioFailure(file.toString(), e);
        }
    }

    private static long fileLength(Path file) throws IOException {
        // A gzip'd file's length says nothing about the payload; read() resets this when it sees gzip.
        return Files.size(file);
    }

    /**
     * A file can be consistent and still not fit: says so before allocating, rather than failing with an
     * OutOfMemoryError part-way. {@code peakBytes} is what the read holds at its peak (a stream's buffer
     * doubles as it fills; labels are widened to ints).
     */
    static void requireHeap(String name, String what, long peakBytes) {
        long heap = Runtime.getRuntime().maxMemory();
        if (peakBytes > heap) {
            throw new DataFileException(name, what + "; reading them needs about " + (peakBytes >> 20) + " MiB, more than the JVM's "
                    + "heap limit of " + (heap >> 20) + " MiB (raise -Xmx, e.g. through SAM4J_JAVA_OPTS)");
        }
    }

    static DataFileException ioFailure(String name, IOException e) {
        if (e instanceof NoSuchFileException) return new DataFileException(name, "file not found", e);
        if (e instanceof AccessDeniedException) return new DataFileException(name, "permission denied", e);
        return new DataFileException(name, "read failed: " + e, e);
    }
}
