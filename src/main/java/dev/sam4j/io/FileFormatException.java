package dev.sam4j.io;

/**
 * A file written by (or for) sam4j that cannot be used: missing, truncated, malformed or inconsistent.
 * The message starts with the file's name, then says what is wrong, so that the command line can print
 * it as it is. {@link dev.sam4j.data.DataFileException} is the same for data sets.
 */
public class FileFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String source;

    public FileFormatException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
    }

    public FileFormatException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
    }

    /** The file the problem is about. */
    public String source() { return source; }
}
