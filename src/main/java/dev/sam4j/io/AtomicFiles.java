package dev.sam4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a file so that a process killed at any moment (or a machine losing power after the call
 * returns) leaves either the old file or the new one, never a mixture: the content goes to a temporary
 * file in the same directory (a rename is atomic only within one file system), which is forced to disk,
 * renamed over the target, and then the directory itself is forced so the rename is durable.
 */
public final class AtomicFiles {
    /** Temporary files are named {@code .NAME.tmp-<random>}; {@link #removeStale} cleans up after a kill. */
    private static final String TMP_INFIX = ".tmp-";
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    private AtomicFiles() {}

    /** Writes the bytes {@code content} produces to {@code target}, atomically and durably. */
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    public static void write(Path target, Content content) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            // Not Files.createTempFile: its owner-only permissions would stick to the checkpoint after the rename.
            tmp = dir.resolve("." + target.getFileName() + TMP_INFIX + Long.toHexString(RANDOM.nextLong() >>> 1));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream out = new java.io.BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
                content.writeTo(out);
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the file system cannot rename atomically in " + dir, e);
            }
            tmp = null;
            forceDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure matters more; a stale temporary is removed by removeStale
                }
            }
        }
    }

    /** Writes {@code bytes} to {@code target} atomically and durably. */
    public static void write(Path target, byte[] bytes) {
        write(target, out -> out.write(bytes));
    }

    /**
     * Makes a rename in {@code dir} durable. Some platforms cannot open a directory for syncing; there the
     * rename is still atomic, only its durability across a power loss is the file system's.
     */
    static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // see above: not fatal
        }
    }

    /** Deletes temporary files that a killed writer of {@code target} left behind. */
    public static void removeStale(Path target) {
        Path dir = target.toAbsolutePath().getParent();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "." + target.getFileName() + TMP_INFIX + "*")) {
            for (Path p : ds) Files.deleteIfExists(p);
        } catch (IOException e) {
            // harmless: a stale temporary only wastes space
        }
    }
}
