package dev.sam4j.backend;

/**
 * Geometry of a 2-D convolution over NCHW tensors with square-or-not kernels, symmetric zero padding and
 * equal strides: input {@code [N, inC, inH, inW]}, weight {@code [outC, inC, kH, kW]}, output
 * {@code [N, outC, outH, outW]} with {@code outH = (inH + 2·pad − kH) / stride + 1}.
 */
public record ConvGeom(int inC, int inH, int inW, int outC, int kH, int kW, int stride, int pad) {
    public ConvGeom {
        if (inC <= 0 || inH <= 0 || inW <= 0 || outC <= 0 || kH <= 0 || kW <= 0 || stride <= 0 || pad < 0) {
            throw new IllegalArgumentException("invalid convolution geometry " + this);
        }
        if (inH + 2 * pad < kH || inW + 2 * pad < kW) {
            throw new IllegalArgumentException("kernel larger than padded input in " + this);
        }
    }

    public int outH() { return (inH + 2 * pad - kH) / stride + 1; }
    public int outW() { return (inW + 2 * pad - kW) / stride + 1; }
    public int inSize() { return inC * inH * inW; }
    public int outSize() { return outC * outH() * outW(); }
    public int weightSize() { return outC * inC * kH * kW; }
    /** Rows of the im2col matrix: {@code inC·kH·kW}. */
    public int patchSize() { return inC * kH * kW; }
}
