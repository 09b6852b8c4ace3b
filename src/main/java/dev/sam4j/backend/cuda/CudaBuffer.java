package dev.sam4j.backend.cuda;

import dev.sam4j.backend.Buffer;

/**
 * A view of {@code length} floats of device memory at {@code address}. The allocation belongs to the
 * {@link CudaBackend} that made it: closing the root view (the one {@link CudaBackend#allocate} returned)
 * frees it early, and closing the backend frees whatever is left; slices share the memory and closing a
 * slice does nothing.
 */
public final class CudaBuffer implements Buffer, AutoCloseable {
    final CudaBackend owner;
    final long address;       // device address of element 0 of this view
    private final long length;
    private final boolean root;

    CudaBuffer(CudaBackend owner, long address, long length, boolean root) {
        this.owner = owner;
        this.address = address;
        this.length = length;
        this.root = root;
    }

    @Override public long length() { return length; }

    @Override
    public Buffer slice(long offset, long len) {
        Buffer.checkSlice(offset, len, length);
        return new CudaBuffer(owner, address + 4 * offset, len, false);
    }

    /** Device address of element {@code i} of this view. */
    long at(long i) { return address + 4 * i; }

    @Override
    public void close() {
        if (root) owner.free(this);
    }

    @Override public String toString() { return "CudaBuffer[" + length + " floats @ 0x" + Long.toHexString(address) + "]"; }
}
