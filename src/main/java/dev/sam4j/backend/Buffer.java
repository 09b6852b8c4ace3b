package dev.sam4j.backend;

/**
 * A contiguous range of numbers owned by one {@link Backend} (host array, device pointer, ...). Buffers
 * are views: {@link #slice} shares memory. Only the backend that made a buffer may read or write it.
 */
public interface Buffer {
    /** Number of elements in this view. */
    long length();

    /** A view of {@code length} elements starting at {@code offset} within this view. */
    Buffer slice(long offset, long length);

    /** Checks a view request against this buffer's length; shared by implementations. */
    static void checkSlice(long offset, long length, long available) {
        if (offset < 0 || length < 0 || offset + length > available) {
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + length) + ") of a buffer of " + available);
        }
    }
}
