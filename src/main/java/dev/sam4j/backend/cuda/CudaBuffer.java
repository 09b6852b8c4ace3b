package dev.sam4j.backend.cuda;

import dev.sam4j.backend.Buffer;

/**
 * A view of {@code length} elements of device memory at {@code address}: floats, or bf16 values (16 bits each:
 * {@link #bf16}) where a native bf16 run stores its activations and the weights' shadow. The allocation belongs to the
 * {@link CudaBackend} that made it: closing the root view (the one {@link CudaBackend#allocate} returned)
 * frees it early, and closing the backend frees whatever is left; slices share the memory and closing a
 * slice does nothing.
 */
public final class CudaBuffer implements Buffer, AutoCloseable {
    final CudaBackend owner;
    final long address;       // device address of element 0 of this view
    private final long length;
    private final boolean root;
    /** Bytes per element: 4 (float) or 2 (bf16). */
    final int elementBytes;

    CudaBuffer(CudaBackend owner, long address, long length, boolean root) { this(owner, address, length, root, 4); }

    CudaBuffer(CudaBackend owner, long address, long length, boolean root, int elementBytes) {
        this.owner = owner;
        this.address = address;
        this.length = length;
        this.root = root;
        this.elementBytes = elementBytes;
    }

    /** Whether this view holds bf16 values (16-bit elements). */
    boolean bf16() { return elementBytes == 2; }

    @Override public long length() { return length; }

    @Override
    public Buffer slice(long offset, long len) {
        Buffer.checkSlice(offset, len, length);
        return new CudaBuffer(owner, address + (long) elementBytes * offset, len, false, elementBytes);
    }

    /** Device address of element {@code i} of this view. */
    long at(long i) { return address + (long) elementBytes * i; }

    @Override
    public void close() {
        if (root) owner.free(this);
    }

    @Override public String toString() { return "CudaBuffer[" + length + (bf16() ? " bf16" : " floats") + " @ 0x" + Long.toHexString(address) + "]"; }
}
