package dev.sam4j.parallel;

/** A collective could not complete because a rank failed or left; the message names the rank. */
public final class CollectiveException extends RuntimeException {
    private final int failedRank;

    public CollectiveException(int failedRank, String message, Throwable cause) {
        super(message, cause);
        this.failedRank = failedRank;
    }

    /** The rank that failed first, or -1 when unknown. */
    public int failedRank() { return failedRank; }
}
