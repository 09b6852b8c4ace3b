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
            int dy = 0, dx = 0;
            boolean mirror = false;
            if (padding > 0 || flip) {
                Rng rng = Rng.of(random);
                if (padding > 0) {
                    dy = rng.nextInt(2 * padding + 1) - padding;
                    dx = rng.nextInt(2 * padding + 1) - padding;
                }
                mirror = flip && (rng.nextLong() & 1) != 0;
            }
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
