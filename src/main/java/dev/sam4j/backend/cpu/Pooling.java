package dev.sam4j.backend.cpu;

import dev.sam4j.backend.PoolGeom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Max pooling on one {@code h × w} plane at a time (the backend spreads planes over its threads). The
 * window is scanned row-major and a value replaces the running maximum only when strictly greater, so
 * ties go to the first position and a NaN in the first valid cell sticks, exactly as in
 * {@link ScalarOps}. Padded cells never win. Backward recomputes the winner from {@code x} rather than
 * storing indices: it costs one extra read of the input, and needs no index buffer in the interface.
 *
 * <p>The 2×2 stride-2 case is vectorised: scalar code compares random data with unpredictable branches
 * (≈ 8 cycles per input element measured; C2 emits branches, not conditional moves). The vector version
 * evaluates the window starting at every column {@code j} of a row pair with loads at {@code j} and
 * {@code j + 1}, keeps the even lanes (the real windows) through a small per-thread row buffer, and uses
 * blends, so the reference semantics hold exactly: the maximum ignores NaN after the first cell, and
 * the winner is the first cell in row-major order that equals it.
 */
final class Pooling {
    private Pooling() {}

    /**
     * At most 256 bits: planes are narrow (a 14-wide input has 13 window starts), and with 16-float
     * vectors they would fall back to the scalar path (measured 5× slower pooling with -XX:UseAVX=3).
     */
    private static final VectorSpecies<Float> F =
            VectorWidths.BITS > 256 ? FloatVector.SPECIES_256 : VectorWidths.FLOATS;
    private static final int L = F.length();

    /** Per-thread row buffer for {@link #maxForward}/{@link #maxBackward}: at least {@code w + L} floats. */
    static float[] rowBuffer(float[] current, int w) {
        return current != null && current.length >= w + 2 * L ? current : new float[w + 2 * L];
    }

    static void maxForward(PoolGeom g, float[] x, int xo, float[] y, int yo, float[] row) {
        int oh = g.outH(), ow = g.outW(), w = g.w();
        if (g.k() == 2 && g.stride() == 2 && g.pad() == 0) {
            for (int i = 0; i < oh; i++) {
                int r0 = xo + 2 * i * w, r1 = r0 + w, dst = yo + i * ow;
                int span = 2 * ow - 1; // window starts 0, 2, ..., 2·ow − 2; lanes j + 1 stay inside the row
                int j = 0;
                if (span >= L) {
                    // The last vector is placed to end at span (overlapping the previous one) instead of a
                    // scalar tail: narrow planes (14 wide: span 13) would otherwise be mostly scalar.
                    for (int jj = 0; ; jj += L) {
                        j = Math.min(jj, span - L);
                        FloatVector a = FloatVector.fromArray(F, x, r0 + j), b = FloatVector.fromArray(F, x, r0 + j + 1);
                        FloatVector c = FloatVector.fromArray(F, x, r1 + j), d = FloatVector.fromArray(F, x, r1 + j + 1);
                        FloatVector best = a.blend(b, b.compare(VectorOperators.GT, a));
                        best = best.blend(c, c.compare(VectorOperators.GT, best));
                        best = best.blend(d, d.compare(VectorOperators.GT, best));
                        best.intoArray(row, j);
                        if (j == span - L) break;
                    }
                    j = span;
                }
                for (; j < span; j++) {
                    float best = x[r0 + j], v = x[r0 + j + 1];
                    if (v > best) best = v;
                    v = x[r1 + j];
                    if (v > best) best = v;
                    v = x[r1 + j + 1];
                    if (v > best) best = v;
                    row[j] = best;
                }
                for (int k = 0; k < ow; k++) y[dst + k] = row[2 * k];
            }
            return;
        }
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) y[yo + i * ow + j] = x[xo + argmax(g, x, xo, i, j)];
    }

    static void maxBackward(PoolGeom g, float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, float[] row) {
        int oh = g.outH(), ow = g.outW(), w = g.w();
        java.util.Arrays.fill(dx, dxo, dxo + g.h() * w, 0f);
        if (g.k() == 2 && g.stride() == 2 && g.pad() == 0) {
            FloatVector one = FloatVector.broadcast(F, 1f), two = FloatVector.broadcast(F, 2f), three = FloatVector.broadcast(F, 3f);
            FloatVector zero = FloatVector.zero(F);
            for (int i = 0; i < oh; i++) {
                int r0 = 2 * i * w, r1 = r0 + w;
                int span = 2 * ow - 1;
                int j = 0;
                // row[j] = index in the window (0..3, row-major) of the winner of the window starting at j
                if (span >= L) {
                    for (int jj = 0; ; jj += L) {
                        j = Math.min(jj, span - L);
                        FloatVector a = FloatVector.fromArray(F, x, xo + r0 + j), b = FloatVector.fromArray(F, x, xo + r0 + j + 1);
                        FloatVector c = FloatVector.fromArray(F, x, xo + r1 + j), d = FloatVector.fromArray(F, x, xo + r1 + j + 1);
                        VectorMask<Float> mb = b.compare(VectorOperators.GT, a);
                        FloatVector best = a.blend(b, mb), at = zero.blend(one, mb);
                        VectorMask<Float> mc = c.compare(VectorOperators.GT, best);
                        best = best.blend(c, mc);
                        at = at.blend(two, mc);
                        at = at.blend(three, d.compare(VectorOperators.GT, best));
                        at.intoArray(row, j);
                        if (j == span - L) break;
                    }
                    j = span;
                }
                for (; j < span; j++) {
                    int at = 0;
                    float best = x[xo + r0 + j];
                    if (x[xo + r0 + j + 1] > best) { at = 1; best = x[xo + r0 + j + 1]; }
                    if (x[xo + r1 + j] > best) { at = 2; best = x[xo + r1 + j]; }
                    if (x[xo + r1 + j + 1] > best) at = 3;
                    row[j] = at;
                }
                // Windows do not overlap at stride 2, so each input cell gets at most one gradient.
                for (int k = 0; k < ow; k++) {
                    int at = (int) row[2 * k];
                    dx[dxo + r0 + 2 * k + (at & 1) + (at >> 1) * w] = dy[dyo + i * ow + k];
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
