package dev.sam4j.data;

/**
 * Turns one stored example (bytes, CHW) into normalised floats, possibly randomly transformed. The
 * randomness arrives as a single {@code long} that the loader derives from (seed, epoch, example index),
 * never from a shared generator, so an example's augmentation is the same whichever thread prepares it
 * and however far ahead: runs are reproducible at any prefetch depth.
 */
@FunctionalInterface
public interface Augment {
    /**
     * Writes example pixels {@code src[srcOffset .. srcOffset + c·h·w)} into
     * {@code dst[dstOffset .. dstOffset + c·h·w)}, normalised with {@code norm}.
     *
     * @param random this example's random bits for this epoch
     */
    void write(byte[] src, int srcOffset, int c, int h, int w, Normalization norm, float[] dst, int dstOffset, long random);

    /** No augmentation: normalise only (evaluation, or training without augmentation). */
    static Augment none() { return new CropFlip(0, false); }

    /**
     * The standard CIFAR training augmentation: pad by {@code padding} pixels on every side, crop a
     * random h×w window (offsets uniform in {@code [0, 2·padding]}), then flip horizontally with
     * probability 1/2.
     */
    static Augment cropFlip(int padding) { return new CropFlip(padding, true); }

    /**
     * Random crop of a zero-padded image, then optional horizontal flip, in that order (as torchvision's
     * RandomCrop then RandomHorizontalFlip). Padding is pixel value 0 (black) <em>before</em>
     * normalisation, as in the usual pipeline where Normalize comes last; so it becomes
     * {@code (0 − mean)/std}, not 0.
     */
    record CropFlip(int padding, boolean flip) implements Augment {
        public CropFlip {
            if (padding < 0) throw new IllegalArgumentException("padding must be >= 0, got " + padding);
        }

        @Override
        public void write(byte[] src, int srcOffset, int c, int h, int w, Normalization norm, float[] dst, int dstOffset, long random) {
            // Two SplitMix64 outputs, used without an Rng object: this runs once per example and must not
            // allocate. Multiply-shift maps 32 uniform bits onto [0, span) with a bias below span/2^32.
            long bits = Rng.mix(random + 0x9E3779B97F4A7C15L);
            long span = 2L * padding + 1;
            int dy = (int) (((bits >>> 32) * span) >>> 32) - padding;
            int dx = (int) (((bits & 0xFFFFFFFFL) * span) >>> 32) - padding;
            boolean mirror = flip && Rng.mix(random + 2 * 0x9E3779B97F4A7C15L) < 0;
            for (int ch = 0; ch < c; ch++) {
                float[] t = norm.table(ch);
                float zero = t[0];
                int plane = srcOffset + ch * h * w;
                int out = dstOffset + ch * h * w;
                for (int y = 0; y < h; y++) {
                    // output (y, x) shows source (y + dy, x' + dx), where x' = w−1−x when mirrored
                    int sy = y + dy;
                    if (sy < 0 || sy >= h) {
                        java.util.Arrays.fill(dst, out + y * w, out + y * w + w, zero);
                        continue;
                    }
                    int row = plane + sy * w;
                    for (int x = 0; x < w; x++) {
                        int sx = (mirror ? w - 1 - x : x) + dx;
                        dst[out + y * w + x] = sx < 0 || sx >= w ? zero : t[src[row + sx] & 0xFF];
                    }
                }
            }
        }
    }
}
