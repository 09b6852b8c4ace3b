package dev.sam4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A strict reader of gzip data (RFC 1952) for the data files: one or more members, each with its header,
 * CRC-32 and length checked, and nothing after the last one.
 *
 * <p>Why not {@link java.util.zip.GZIPInputStream}: after a member it silently drops whatever does not
 * parse as another gzip header, so a file with garbage appended (or glued to part of another file)
 * loads as if it were clean; its errors are bare {@code EOFException}s and {@code ZipException}s
 * without the file's name; and its {@link Inflater} holds native memory until the stream is closed,
 * which the readers could forget on an error path. Here every problem is a {@link DataFileException}
 * naming the file, and {@link #close()} (which the readers call on every path) frees the inflater.
 *
 * <p>Memory: one input buffer of the size given; the inflater's window is native and fixed (about
 * 40 KiB). Output goes straight into the caller's array, so a forged length cannot make this class
 * allocate anything.
 */
final class GzipStream extends InputStream {
    private static final int FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16, RESERVED = 0xE0;

    private final InputStream in;
    private final String name;
    private final byte[] buf;
    private int pos, lim;
    private final Inflater inflater = new Inflater(true); // raw deflate: gzip framing is parsed here
    private final CRC32 crc = new CRC32();
    private long memberBytes; // decompressed bytes of the current member, compared with its ISIZE mod 2^32
    private int members;
    private boolean eof;
    private final byte[] one = new byte[1];

    /** True when the first two bytes of a stream are the gzip magic {@code 1f 8b}. */
    static boolean isGzipMagic(int b0, int b1) { return b0 == 0x1f && b1 == 0x8b; }

    /** Reads the first member's header now, so that a file that is not gzip after all fails early. */
    GzipStream(InputStream in, String name, int bufferSize) throws IOException {
        this.in = in;
        this.name = name;
        this.buf = new byte[bufferSize];
        readHeader();
    }

    @Override public int read() throws IOException {
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override public int read(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) return 0;
        while (!eof) {
            if (inflater.finished()) {
                // Checked first: the deflate data may end exactly at a read boundary, trailer still unread.
                pos = lim - inflater.getRemaining();
                endMember();
                continue;
            }
            if (inflater.needsInput()) {
                if (!fill()) throw problem("truncated gzip stream: the compressed data of member " + members + " ends early");
                inflater.setInput(buf, pos, lim - pos);
                pos = lim; // the inflater owns these bytes now; what it leaves over is taken back above
            }
            int n;
            try {
                n = inflater.inflate(b, off, len);
            } catch (DataFormatException e) {
                throw problem("corrupt gzip data in member " + members + " (" + e.getMessage() + ")");
            }
            if (n > 0) {
                crc.update(b, off, n);
                memberBytes += n;
                return n;
            }
            if (inflater.needsDictionary()) {
                throw problem("corrupt gzip data in member " + members + " (a deflate preset dictionary is not allowed in gzip)");
            } else if (!inflater.finished() && !inflater.needsInput()) {
                throw problem("corrupt gzip data in member " + members + " (the inflater made no progress)");
            }
        }
        return -1;
    }

    @Override public void close() throws IOException {
        inflater.end();
        in.close();
    }

    // ---------------------------------------------------------------------------------------------

    private void readHeader() throws IOException {
        members++;
        CRC32 headerCrc = new CRC32();
        int id1 = headerByte(headerCrc), id2 = headerByte(headerCrc);
        if (!isGzipMagic(id1, id2)) throw problem("not gzip data at member " + members + " (no 1f 8b magic)");
        int method = headerByte(headerCrc);
        if (method != 8) throw problem("gzip compression method " + method + " is not deflate (8)");
        int flags = headerByte(headerCrc);
        if ((flags & RESERVED) != 0) {
            throw problem("gzip header flags 0x" + Integer.toHexString(flags) + " have reserved bits set: not a gzip file this reader knows");
        }
        for (int i = 0; i < 6; i++) headerByte(headerCrc); // mtime, extra flags, OS: informational
        if ((flags & FEXTRA) != 0) {
            int xlen = headerByte(headerCrc) | headerByte(headerCrc) << 8;
            for (int i = 0; i < xlen; i++) headerByte(headerCrc);
        }
        if ((flags & FNAME) != 0) while (headerByte(headerCrc) != 0) { /* skip the original file name */ }
        if ((flags & FCOMMENT) != 0) while (headerByte(headerCrc) != 0) { /* skip the comment */ }
        if ((flags & FHCRC) != 0) {
            int expected = (int) headerCrc.getValue() & 0xFFFF;
            int stored = headerByte(null) | headerByte(null) << 8;
            if (stored != expected) throw problem("gzip header checksum mismatch in member " + members + ": the header is corrupt");
        }
        inflater.reset();
        crc.reset();
        memberBytes = 0;
    }

    /** The trailer: CRC-32 and length of the member; then either the end or another member. */
    private void endMember() throws IOException {
        long storedCrc = trailerWord(), storedSize = trailerWord();
        if (storedCrc != crc.getValue()) {
            throw problem("gzip CRC-32 mismatch in member " + members + " (stored " + Long.toHexString(storedCrc) + ", data gives "
                    + Long.toHexString(crc.getValue()) + "): the data is corrupt");
        }
        if (storedSize != (memberBytes & 0xFFFFFFFFL)) {
            throw problem("gzip member " + members + " says it holds " + storedSize + " bytes (mod 2^32) but " + memberBytes
                    + " were decompressed: the data is corrupt");
        }
        if (!fill()) {
            eof = true;
        } else if ((buf[pos] & 0xFF) == 0x1f) {
            readHeader(); // concatenated members are part of the format (gzip a b > c)
        } else {
            throw problem("unexpected bytes after the end of the gzip data (member " + members + " ended cleanly): "
                    + "something was appended to the file");
        }
    }

    private long trailerWord() throws IOException {
        long v = 0;
        for (int i = 0; i < 4; i++) {
            int b = next();
            if (b < 0) throw problem("truncated gzip stream: the trailer (CRC-32 and length) of member " + members + " is cut off");
            v |= (long) b << (8 * i);
        }
        return v;
    }

    private int headerByte(CRC32 headerCrc) throws IOException {
        int b = next();
        if (b < 0) throw problem("truncated gzip stream: the header of member " + members + " is cut off");
        if (headerCrc != null) headerCrc.update(b);
        return b;
    }

    private int next() throws IOException {
        return fill() ? buf[pos++] & 0xFF : -1;
    }

    /** Makes at least one buffered byte available; false at the end of the input. */
    private boolean fill() throws IOException {
        while (pos >= lim) {
            int n = in.read(buf, 0, buf.length);
            if (n < 0) return false;
            pos = 0;
            lim = n;
        }
        return true;
    }

    private DataFileException problem(String what) {
        return new DataFileException(name, what);
    }
}
