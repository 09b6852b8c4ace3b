package dev.sam4j.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * What an nvcc fatbin holds, read from its bytes: one entry per target, machine code (SASS) for
 * {@code sm_XY} or PTX for {@code compute_XY}. Why read it: a GPU for which the fatbin has no usable image
 * fails only at {@code cuModuleLoadData}, with {@code CUDA_ERROR_NO_BINARY_FOR_GPU}; checking first lets the
 * start-up refuse with one line naming the device's compute capability and the targets the jar was built
 * for ({@link #check}).
 *
 * <p>Layout (little-endian): a 16-byte header (magic {@code 0xba55ed50}, u16 version, u16 header size, u64
 * size of the entries that follow), then entries, each a header (u16 kind: 1 PTX, 2 machine code; u16
 * version; u32 header size; u64 payload size; ...; u32 target architecture {@code 10·major + minor} at byte
 * 28) followed by its payload.
 *
 * <p>Which image runs where (the driver's rule): SASS for {@code sm_XY} on a device of compute capability
 * {@code X.Z} with {@code Z ≥ Y} (same major version); PTX for {@code compute_XY} on any device of
 * {@code X.Y} or newer, compiled by the driver when the module is loaded.
 */
final class Fatbin {
    private Fatbin() {}

    static final int MAGIC = 0xba55ed50;
    private static final int KIND_PTX = 1, KIND_SASS = 2;

    /** One target: PTX or machine code for architecture {@code arch} ({@code 10·major + minor}). */
    record Target(boolean ptx, int arch) {
        String name() { return (ptx ? "compute_" : "sm_") + arch; }

        /** Whether the driver can run this image on a device of compute capability {@code major.minor}. */
        boolean runsOn(int major, int minor) {
            return ptx ? arch <= 10 * major + minor : arch / 10 == major && arch % 10 <= minor;
        }
    }

    /** A target and where its entry (header and payload) lies in the image. */
    record Entry(Target target, int offset, int length) {}

    /** The entries of {@code image}, in order; throws {@link CudaException} if it is not a well-formed fatbin. */
    static List<Entry> entries(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (image.length < 16 || b.getInt(0) != MAGIC) throw bad("it does not start with the fatbin magic 0xba55ed50");
        int headerSize = Short.toUnsignedInt(b.getShort(6));
        long size = b.getLong(8);
        if (headerSize < 16 || size < 0 || headerSize + size > image.length) {
            throw bad("its header says " + size + " bytes of entries after " + headerSize + ", but the image has " + image.length);
        }
        List<Entry> out = new ArrayList<>();
        long end = headerSize + size;
        for (long at = headerSize; at < end; ) {
            if (at + 32 > end) throw bad("an entry header at byte " + at + " runs past the end");
            int i = (int) at;
            int kind = Short.toUnsignedInt(b.getShort(i));
            long entryHeader = Integer.toUnsignedLong(b.getInt(i + 4)), payload = b.getLong(i + 8);
            int arch = b.getInt(i + 28);
            if (entryHeader < 32 || payload < 0 || at + entryHeader + payload > end) {
                throw bad("the entry at byte " + at + " (" + entryHeader + " + " + payload + " bytes) runs past the end");
            }
            if (kind != KIND_PTX && kind != KIND_SASS) throw bad("the entry at byte " + at + " has unknown kind " + kind);
            if (arch < 10 || arch > 999) throw bad("the entry at byte " + at + " names architecture " + arch);
            out.add(new Entry(new Target(kind == KIND_PTX, arch), i, (int) (entryHeader + payload)));
            at += entryHeader + payload;
        }
        if (out.isEmpty()) throw bad("it holds no image");
        return out;
    }

    /** The targets of {@code image}. */
    static List<Target> targets(byte[] image) {
        return entries(image).stream().map(Entry::target).toList();
    }

    /** {@code "sm_75 sm_80 sm_90 + compute_80 PTX"}. */
    static String describe(List<Target> targets) {
        StringJoiner sass = new StringJoiner(" "), ptx = new StringJoiner(" ");
        for (Target t : targets) (t.ptx() ? ptx : sass).add(t.name());
        if (ptx.length() == 0) return sass.toString();
        return (sass.length() == 0 ? "" : sass + " + ") + ptx + " PTX";
    }

    /**
     * Throws {@link CudaException}, in one line naming the device, its compute capability and the fatbin's
     * targets, unless one of {@code targets} runs on a device of compute capability {@code major.minor}.
     */
    static void check(List<Target> targets, String device, int major, int minor) {
        for (Target t : targets) if (t.runsOn(major, minor)) return;
        throw new CudaException(device + " has compute capability " + major + "." + minor + ", and the GPU kernels in this sam4j "
                + "jar are built for " + describe(targets) + ", none of which runs on it"
                + (10 * major + minor < 75 ? " (CUDA 13 supports compute capability 7.5 and newer)"
                        : " (rebuild the jar with an nvcc that targets sm_" + major + minor + ")"));
    }

    private static CudaException bad(String problem) {
        return new CudaException("the GPU kernels' fatbin is corrupt: " + problem);
    }
}
