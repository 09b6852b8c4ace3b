package dev.sam4j.backend.cpu;

import dev.sam4j.backend.PoolGeom;

/**
 * Max pooling on one {@code h × w} plane at a time (the backend spreads planes over its threads). The
 * window is scanned row-major and a value replaces the running maximum only when strictly greater, so
 * ties go to the first position and a NaN in the first valid cell sticks, exactly as in
 * {@link ScalarOps}. Padded cells never win. Backward recomputes the winner from {@code x} rather than
 * storing indices: it costs one extra read of the input, and needs no index buffer in the interface.
 */
final class Pooling {
    private Pooling() {}

    static void maxForward(PoolGeom g, float[] x, int xo, float[] y, int yo) {
        int oh = g.outH(), ow = g.outW(), w = g.w();
        if (g.k() == 2 && g.stride() == 2 && g.pad() == 0) {
            // The common 2×2/2 case without bounds checks per cell.
            for (int i = 0; i < oh; i++) {
                int r0 = xo + 2 * i * w, r1 = r0 + w, dst = yo + i * ow;
                for (int j = 0; j < ow; j++) {
                    float best = x[r0 + 2 * j];
                    float v = x[r0 + 2 * j + 1];
                    if (v > best) best = v;
                    v = x[r1 + 2 * j];
                    if (v > best) best = v;
                    v = x[r1 + 2 * j + 1];
                    if (v > best) best = v;
                    y[dst + j] = best;
                }
            }
            return;
        }
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) y[yo + i * ow + j] = x[xo + argmax(g, x, xo, i, j)];
    }

    static void maxBackward(PoolGeom g, float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo) {
        int oh = g.outH(), ow = g.outW(), w = g.w();
        java.util.Arrays.fill(dx, dxo, dxo + g.h() * w, 0f);
        if (g.k() == 2 && g.stride() == 2 && g.pad() == 0) {
            for (int i = 0; i < oh; i++) {
                int r0 = 2 * i * w, r1 = r0 + w;
                for (int j = 0; j < ow; j++) {
                    int at = r0 + 2 * j;
                    float best = x[xo + at];
                    if (x[xo + r0 + 2 * j + 1] > best) { at = r0 + 2 * j + 1; best = x[xo + at]; }
                    if (x[xo + r1 + 2 * j] > best) { at = r1 + 2 * j; best = x[xo + at]; }
                    if (x[xo + r1 + 2 * j + 1] > best) { at = r1 + 2 * j + 1; }
                    // Windows do not overlap at stride 2, so each input cell gets at most one gradient.
                    dx[dxo + at] = dy[dyo + i * ow + j];
                }
            }
            return;
        }
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) dx[dxo + argmax(g, x, xo, i, j)] += dy[dyo + i * ow + j];
    }

    /** Index within the plane of the first maximum of window (i, j); a window always holds a real cell. */
    private static int argmax(PoolGeom g, float[] x, int xo, int i, int j) {
        int best = -1;
        float bv = 0f;
        int h0 = i * g.stride() - g.pad(), w0 = j * g.stride() - g.pad();
        int ki0 = Math.max(0, -h0), ki1 = Math.min(g.k(), g.h() - h0);
        int kj0 = Math.max(0, -w0), kj1 = Math.min(g.k(), g.w() - w0);
        for (int ki = ki0; ki < ki1; ki++) {
            int row = (h0 + ki) * g.w();
            for (int kj = kj0; kj < kj1; kj++) {
                int at = row + w0 + kj;
                float v = x[xo + at];
                if (best < 0 || v > bv) {
                    bv = v;
                    best = at;
                }
            }
        }
        return best;
    }
}
