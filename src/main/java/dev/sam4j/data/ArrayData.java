package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.util.Arrays;

/**
 * Images and labels given as arrays, whatever file they came from ({@link NpyReader}, a safetensors
 * file): the checks and the conversion to a {@link Dataset} shared by both readers, so that both accept
 * exactly the same arrays and say the same things about the rest.
 *
 * <ul>
 *   <li>Images: {@code uint8} (pixel values as they are) or {@code float32} in [0, 1] (times 255, rounded
 *       to the 8-bit grid the loader works on; a value outside [0, 1] or not finite is refused, since
 *       silently clamping a [0, 255] float array would train on white images). Shape {@code [N, H, W]}
 *       (one channel), {@code [N, C, H, W]} or {@code [N, H, W, C]} with C = 1 or 3; which of the last two
 *       is decided by which axis has 1 or 3 entries, and where both have (say {@code [N, 3, 8, 3]}) the
 *       {@code layout=nchw|nhwc} option must say.</li>
 *   <li>Labels: {@code uint8}, {@code int32} or {@code int64}, shape {@code [N]}, each in
 *       {@code [0, MAX_CLASSES)}; the number of classes is the largest label plus one over all sets read
 *       together (so train and test agree).</li>
 * </ul>
 */
public final class ArrayData {
    /** More classes than this is a forged label, not a data set (the synthetic data's limit, too). */
    public static final int MAX_CLASSES = 65536;

    private ArrayData() {}

    /** The element types the readers can meet; {@link #width} bytes each, little-endian. */
    public enum DType {
        U8(1), I8(1), I16(2), U16(2), I32(4), U32(4), I64(8), U64(8), F16(2), F32(4), F64(8), BOOL(1), OTHER(0);

        final int width;

        DType(int width) { this.width = width; }

        /** numpy's name for it, as users know it. */
        String display() {
            return switch (this) {
                case U8 -> "uint8"; case I8 -> "int8"; case I16 -> "int16"; case U16 -> "uint16"; case I32 -> "int32"; case U32 -> "uint32";
                case I64 -> "int64"; case U64 -> "uint64"; case F16 -> "float16"; case F32 -> "float32"; case F64 -> "float64";
                case BOOL -> "bool"; case OTHER -> "of an unsupported dtype";
            };
        }
    }

    /** Image layout: decided from the shape, or forced. */
    public enum Layout { AUTO, NCHW, NHWC }

    /** One array as read: element type, shape, and its little-endian bytes (exactly elements · width). */
    public record Array(String source, String what, DType dtype, long[] shape, byte[] data) {}

    /** Images as CHW bytes plus their example shape; the result of {@link #images}. */
    record Images(Shape exampleShape, byte[] pixels, int count) {}

    /** Validates and converts an image array; every error names {@code a.source()}. */
    static Images images(Array a, Layout layout) {
        String src = a.source();
        long[] s = a.shape();
        if (a.dtype() != DType.U8 && a.dtype() != DType.F32) {
            throw new DataFileException(src, a.what() + " are " + a.dtype().display() + "; images must be uint8 or float32");
        }
        long n, c, h, w;
        boolean nhwc;
        if (s.length == 3) {
            n = s[0]; c = 1; h = s[1]; w = s[2]; nhwc = false;
        } else if (s.length == 4) {
            boolean first = s[1] == 1 || s[1] == 3, last = s[3] == 1 || s[3] == 3;
            nhwc = switch (layout) {
                case NCHW -> false;
                case NHWC -> true;
                case AUTO -> {
                    if (first && last) {
                        throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s)
                                + ": both axis 1 and axis 3 could be the channels; say which with layout=nchw or layout=nhwc");
                    }
                    if (!first && !last) {
                        throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s)
                                + ": neither axis 1 nor axis 3 has 1 or 3 channels (need [N,C,H,W] or [N,H,W,C], C = 1 or 3)");
                    }
                    yield last;
                }
            };
            n = s[0];
            c = nhwc ? s[3] : s[1];
            h = nhwc ? s[1] : s[2];
            w = nhwc ? s[2] : s[3];
            if (c != 1 && c != 3) {
                throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + " with " + c
                        + " channels as " + (nhwc ? "NHWC" : "NCHW") + "; need 1 or 3");
            }
        } else {
            throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + "; need [N,H,W], [N,C,H,W] or [N,H,W,C]");
        }
        if (n < 1 || h < 1 || w < 1) throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + ": no pixels");
        if (h > 65536 || w > 65536) throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + ": images larger than 65536 pixels a side");
        long plane = h * w, example = c * plane;
        // The readers checked that the bytes are all there, so this is at most the file's size.
        long total = n * example;
        if (total > IdxReader.MAX_PAYLOAD_BYTES) {
            throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + ": more pixels than one array holds");
        }
        if (total * a.dtype().width != a.data().length) {
            throw new DataFileException(src, a.what() + ": " + a.data().length + " data bytes for shape " + Arrays.toString(s));
        }
        byte[] px = new byte[(int) total];
        byte[] d = a.data();
        boolean f32 = a.dtype() == DType.F32;
        int e = (int) example, p = (int) plane, cc = (int) c;
        for (int i = 0; i < n; i++) {
            for (int q = 0; q < e; q++) {
                // destination CHW index q = ch·plane + pix; the source index depends on the layout
                int src_ = nhwc ? i * e + (q % p) * cc + q / p : i * e + q;
                int v;
                if (f32) {
                    int o = 4 * src_;
                    float f = Float.intBitsToFloat((d[o] & 0xFF) | (d[o + 1] & 0xFF) << 8 | (d[o + 2] & 0xFF) << 16 | (d[o + 3] & 0xFF) << 24);
                    if (!(f >= 0f && f <= 1f)) {
                        throw new DataFileException(src, a.what() + ": float32 pixel " + f + " of image " + i
                                + " is outside [0, 1] (float images must be scaled to [0, 1]; store 0..255 values as uint8)");
                    }
                    v = Math.round(f * 255f);
                } else {
                    v = d[src_] & 0xFF;
                }
                px[i * e + q] = (byte) v;
            }
        }
        return new Images(Shape.of((int) c, (int) h, (int) w), px, (int) n);
    }

    /** Validates and converts a label array; every error names {@code a.source()}. */
    static int[] labels(Array a) {
        String src = a.source();
        long[] s = a.shape();
        if (a.dtype() != DType.U8 && a.dtype() != DType.I32 && a.dtype() != DType.I64) {
            throw new DataFileException(src, a.what() + " are " + a.dtype().display() + "; labels must be uint8, int32 or int64");
        }
        if (s.length != 1) throw new DataFileException(src, a.what() + " have shape " + Arrays.toString(s) + "; labels must be one-dimensional [N]");
        if (s[0] > IdxReader.MAX_PAYLOAD_BYTES / 8 || s[0] * a.dtype().width != a.data().length) {
            throw new DataFileException(src, a.what() + ": " + a.data().length + " data bytes for shape " + Arrays.toString(s));
        }
        int n = (int) s[0], wd = a.dtype().width;
        byte[] d = a.data();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            long v = 0;
            for (int k = wd - 1; k >= 0; k--) v = v << 8 | (d[i * wd + k] & 0xFF);
            if (wd == 4) v = (int) v; // sign-extend int32; int64 is already signed, uint8 unsigned
            if (v < 0 || v >= MAX_CLASSES) {
                throw new DataFileException(src, a.what() + ": label " + v + " of example " + i + " is outside [0, " + MAX_CLASSES + ")");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /**
     * Images given as floats in [0, 1], {@code [n, C, H, W]} flattened, on the 8-bit grid the loader works on:
     * {@code round(v · 255)}, as float32 array files are read. {@code what} names the array in messages.
     *
     * @throws IllegalArgumentException when the length is not a multiple of the example size or a value is
     *         outside [0, 1] (or not finite)
     */
    public static byte[] pixels(float[] images, Shape exampleShape, String what) {
        int e = exampleShape.intSize();
        if (images.length % e != 0) {
            throw new IllegalArgumentException(what + " holds " + images.length + " floats, not a whole number of " + exampleShape + " images ("
                    + e + " each)");
        }
        byte[] px = new byte[images.length];
        for (int i = 0; i < images.length; i++) {
            float f = images[i];
            if (!(f >= 0f && f <= 1f)) {
                throw new IllegalArgumentException(what + ": pixel " + f + " of image " + i / e + " is outside [0, 1] (scale images to [0, 1])");
            }
            px[i] = (byte) Math.round(f * 255f);
        }
        return px;
    }

    /** Pairs images with labels, checking the counts; {@code classes} is decided by the caller over all sets. */
    static Dataset dataset(String name, String src, Images im, int[] labels, int classes) {
        if (im.count() != labels.length) {
            throw new DataFileException(src, im.count() + " images but " + labels.length + " labels");
        }
        return new Dataset(name, im.exampleShape(), classes, im.pixels(), labels);
    }

    /** The number of classes implied by the labels of all sets read together: the largest plus one (at least 2). */
    static int classes(int[]... sets) {
        int max = 1;
        for (int[] l : sets) for (int v : l) max = Math.max(max, v);
        return max + 1;
    }
}
