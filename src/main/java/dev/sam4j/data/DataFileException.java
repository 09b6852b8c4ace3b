package dev.sam4j.data;

import dev.sam4j.io.FileFormatException;

/**
 * A data file (or resource, or stream) that cannot be used: missing, unreadable, truncated or
 * inconsistent. The message always starts with the file's name, then says what is wrong, so that the
 * command line can print it as it is. Its own type so that data-set errors can be told apart (tests
 * and the fuzzers assert on it); the message format and {@link #source()} are {@link FileFormatException}'s.
 */
public final class DataFileException extends FileFormatException {
    private static final long serialVersionUID = 1L;

    public DataFileException(String source, String problem) {
        super(source, problem);
    }

    public DataFileException(String source, String problem, Throwable cause) {
        super(source, problem, cause);
    }
}
