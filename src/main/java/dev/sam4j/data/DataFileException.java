package dev.sam4j.data;

/**
 * A data file (or resource, or stream) that cannot be used: missing, unreadable, truncated or
 * inconsistent. The message always starts with the file's name, then says what is wrong, so that the
 * command line can print it as it is.
 */
public final class DataFileException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String source;

    public DataFileException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
    }

    public DataFileException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.source = source;
    }

    /** The file, resource or stream name the problem is about. */
    public String source() { return source; }
}
