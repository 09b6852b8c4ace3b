package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import org.junit.jupiter.api.Test;

/** The gzip framing as the IDX reader sees it: what is accepted, and each way it is rejected. */
class GzipStreamTest {
    private static final int[] LABELS = {3, 1, 4, 1, 5, 9, 2, 6};
    private static final byte[] RAW = IdxFiles.labels(LABELS);

    private static int[] read(byte[] gz) {
        return IdxReader.readLabels(new ByteArrayInputStream(gz), "t.gz");
    }

    private static String rejection(byte[] gz) {
        String m = assertThrows(DataFileException.class, () -> read(gz)).getMessage();
        assertTrue(m.startsWith("t.gz: "), m);
        return m;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** A member with every optional header field, written by hand (the JDK's writer sets none). */
    private static byte[] memberWithAllHeaderFields(byte[] data, boolean corruptHeaderCrc) {
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        h.writeBytes(new byte[] {0x1f, (byte) 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3});
        h.writeBytes(new byte[] {5, 0, 'A', 'B', 1, 0, 7});    // FEXTRA: 5 bytes of subfield
        h.writeBytes("labels.idx\0".getBytes());                // FNAME
        h.writeBytes("a comment\0".getBytes());                 // FCOMMENT
        CRC32 hc = new CRC32();
        hc.update(h.toByteArray());
        int crc16 = (int) hc.getValue() & 0xFFFF ^ (corruptHeaderCrc ? 1 : 0);
        h.writeBytes(new byte[] {(byte) crc16, (byte) (crc16 >>> 8)});
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try (DeflaterOutputStream d = new DeflaterOutputStream(body, new Deflater(9, true))) {
            d.write(data);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        CRC32 c = new CRC32();
        c.update(data);
        return concat(h.toByteArray(), body.toByteArray(), le32(c.getValue()), le32(data.length));
    }

    private static byte[] le32(long v) {
        return new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }

    @Test
    void concatenatedMembersReadAsOneStream() {
        byte[] twoMembers = concat(IdxFiles.gzip(Arrays.copyOf(RAW, 6)), IdxFiles.gzip(Arrays.copyOfRange(RAW, 6, RAW.length)));
        assertArrayEquals(LABELS, read(twoMembers));
    }

    @Test
    void optionalHeaderFieldsAreSkippedAndTheHeaderChecksumChecked() {
        assertArrayEquals(LABELS, read(memberWithAllHeaderFields(RAW, false)));
        assertTrue(rejection(memberWithAllHeaderFields(RAW, true)).contains("header checksum mismatch"));
    }

    /** The JDK's GZIPInputStream reads all of these as the clean file. */
    @Test
    void bytesAppendedAfterTheLastMemberAreRejected() {
        byte[] gz = IdxFiles.gzip(RAW);
        assertTrue(rejection(concat(gz, "junk".getBytes())).contains("unexpected bytes after the end of the gzip data"));
        assertTrue(rejection(concat(gz, new byte[512])).contains("unexpected bytes after the end"), "zero padding");
        assertTrue(rejection(concat(gz, new byte[] {0x1f})).contains("header of member 2 is cut off"));
        assertTrue(rejection(concat(gz, new byte[] {0x1f, 0x00, 0, 0})).contains("not gzip data at member 2"));
    }

    /** One byte per read, and nothing "available": every boundary falls between two reads. */
    private static java.io.InputStream oneByteAtATime(byte[] b) {
        return new ByteArrayInputStream(b) {
            @Override public synchronized int read(byte[] x, int off, int len) { return super.read(x, off, Math.min(len, 1)); }

            @Override public synchronized int available() { return 0; }
        };
    }

    @Test
    void readsByteByByteAndACutAtTheEndOfTheDeflateDataIsACutTrailer() {
        byte[] gz = concat(IdxFiles.gzip(Arrays.copyOf(RAW, 5)), memberWithAllHeaderFields(Arrays.copyOfRange(RAW, 5, RAW.length), false));
        assertArrayEquals(LABELS, IdxReader.readLabels(oneByteAtATime(gz), "t.gz"));
        byte[] cut = Arrays.copyOf(IdxFiles.gzip(RAW), IdxFiles.gzip(RAW).length - 8);
        String m = assertThrows(DataFileException.class, () -> IdxReader.readLabels(oneByteAtATime(cut), "t.gz")).getMessage();
        assertTrue(m.contains("trailer (CRC-32 and length) of member 1 is cut off"), m);
    }

    @Test
    void trailerChecksAndTruncation() {
        byte[] gz = IdxFiles.gzip(RAW);
        byte[] badCrc = gz.clone();
        badCrc[gz.length - 8] ^= 1;
        assertTrue(rejection(badCrc).contains("CRC-32 mismatch"));
        byte[] badSize = gz.clone();
        badSize[gz.length - 4] ^= 1;
        assertTrue(rejection(badSize).contains("says it holds"));
        assertTrue(rejection(Arrays.copyOf(gz, gz.length - 3)).contains("trailer (CRC-32 and length) of member 1 is cut off"));
        assertTrue(rejection(Arrays.copyOf(gz, 5)).contains("header of member 1 is cut off"));
        assertTrue(rejection(Arrays.copyOf(gz, 14)).contains("truncated gzip stream"));
        byte[] method = gz.clone();
        method[2] = 7;
        assertTrue(rejection(method).contains("compression method 7"));
        byte[] flags = gz.clone();
        flags[3] = (byte) 0x80;
        assertTrue(rejection(flags).contains("reserved bits"));
    }

    /** Two billion labels fit the array limit but not the test JVM's heap: refused before reading, naming the heap. */
    @Test
    void aDeclarationBeyondTheHeapIsRefusedBeforeReading() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.getRuntime().maxMemory() < 9L << 30, "a heap under 9 GiB");
        byte[] gz = IdxFiles.gzip(IdxFiles.idx(IdxReader.LABELS_MAGIC, new int[] {2_000_000_000}, new byte[100]));
        String m = assertThrows(DataFileException.class, () -> IdxReader.readLabels(new ByteArrayInputStream(gz), "big.gz")).getMessage();
        assertTrue(m.startsWith("big.gz: dimensions [2000000000] declare 2000000000 bytes of data; reading them needs about 9536 MiB, "
                + "more than the JVM's heap limit of"), m);
    }

    /**
     * A compression bomb with a forged header: a few KiB of gzip claiming a GiB of images. The reader
     * inflates what is there and fails at its end, allocating in proportion to the bytes inflated,
     * never to the gigabyte declared.
     */
    @Test
    void aBombWithAForgedHeaderCostsWhatItInflatesTo() {
        int present = 4 << 20;
        byte[] gz = IdxFiles.gzip(IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {1 << 20, 32, 32}, new byte[present]));
        assertTrue(gz.length < 16 << 10, "a bomb: " + gz.length + " bytes");
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        String m = assertThrows(DataFileException.class, () -> IdxReader.readImages(new ByteArrayInputStream(gz), "bomb.gz")).getMessage();
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(m.startsWith("bomb.gz: truncated: dimensions [1048576, 32, 32] declare 1073741824 bytes"), m);
        assertTrue(allocated < 5L * present, "allocated " + allocated + " for " + present + " bytes inflated");
    }
}
