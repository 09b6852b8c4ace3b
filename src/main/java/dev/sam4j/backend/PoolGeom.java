package dev.sam4j.backend;

/**
 * Geometry of a max pooling window over NCHW: {@code channels} planes of {@code h × w}, window
 * {@code k × k}, stride, zero padding (padded cells never win the max). Output {@code (h + 2·pad − k) / stride + 1}.
 */
public record PoolGeom(int channels, int h, int w, int k, int stride, int pad) {
    public PoolGeom {
        if (channels <= 0 || h <= 0 || w <= 0 || k <= 0 || stride <= 0 || pad < 0 || pad >= k) {
            throw new IllegalArgumentException("invalid pooling geometry " + this);
        }
        if (h + 2 * pad < k || w + 2 * pad < k) throw new IllegalArgumentException("window larger than input in " + this);
    }

    public int outH() { return (h + 2 * pad - k) / stride + 1; }
    public int outW() { return (w + 2 * pad - k) / stride + 1; }
    public int inSize() { return channels * h * w; }
    public int outSize() { return channels * outH() * outW(); }
}
