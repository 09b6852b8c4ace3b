package dev.sam4j.backend.cpu;

import dev.sam4j.backend.ConvGeom;

/**
 * 2-D convolution over NCHW as im2col + {@link Sgemm}, one image at a time.
 *
 * <ul>
 *   <li>forward: {@code Y_b[outC × OHW] = W[outC × patch] · col_b[patch × OHW]} (+ bias per row);</li>
 *   <li>backward data: {@code col_b = Wᵀ · dY_b}, then col2im scatters (adds) col_b into {@code dX_b};</li>
 *   <li>backward filter: {@code dW += dY_b · col_bᵀ} (the GEMM's transposing B pack reads col_b), or,
 *       when the patch is shorter than {@code outC} (first layers: 9 or 27 against 32),
 *       {@code dWᵀ += col_b · dY_bᵀ}, so that the GEMM's N, along which its 16/48-wide tiles run, is the
 *       larger dimension (a 9-wide N wastes 7/16 of every tile); {@code dWᵀ} is transposed at the end.</li>
 * </ul>
 * Packing B straight from the image instead of materialising col_b ("implicit im2col") was tried and
 * measured no faster (46 µs per image for the fused pack against 20 µs im2col + 13–25 µs packing, 32→64
 * channels at 14×14), so the simple two-step form stays.
 * A 1×1, stride-1, unpadded convolution skips im2col: the image itself is the {@code [inC × HW]} matrix.
 *
 * <p><b>Parallelism.</b> With at least as many images as threads, images are spread over the pool and
 * each runs serial GEMMs with that thread's packing buffers and column buffer; with fewer images the
 * images run one after another with multithreaded GEMMs. Either way each image's output is the same
 * sequence of operations, so the thread count cannot change a bit.
 *
 * <p><b>Filter gradient determinism.</b> The batch is cut into {@code P = min(n, FILTER_PARTIALS)} fixed
 * contiguous groups (a function of {@code n} only); each group's partial {@code dW} accumulates its images
 * in order into its own slice of the workspace, and the partials are then added in group order.
 *
 * <p><b>Workspace</b> ({@link #workspaceSize}): {@code threads} column buffers of {@code patch × OHW}
 * floats (none for pointwise convolutions), then {@code P} partial filter gradients (none when P = 1 and
 * the gradient is not transposed: the single group accumulates straight into {@code dW}).
 */
final class Conv {
    /** Fixed number of batch groups for the filter gradient; 8 keeps 2–8 threads busy. */
    static final int FILTER_PARTIALS = 8;

    private final WorkerPool pool;
    private final Sgemm gemm;
    private final Job job = new Job();

    Conv(WorkerPool pool, Sgemm gemm) {
        this.pool = pool;
        this.gemm = gemm;
    }

    static boolean isPointwise(ConvGeom g) {
        return g.kH() == 1 && g.kW() == 1 && g.stride() == 1 && g.pad() == 0;
    }

    static long colSize(ConvGeom g) {
        return isPointwise(g) ? 0 : (long) g.patchSize() * g.outH() * g.outW();
    }

    static int partials(int n) {
        return Math.max(1, Math.min(n, FILTER_PARTIALS));
    }

    /** Whether the filter gradient is computed transposed ({@code dWᵀ = col · dYᵀ}): when patch < outC. */
    static boolean transposedFilter(ConvGeom g) {
        return !isPointwise(g) && g.patchSize() < g.outC();
    }

    static long workspaceSize(ConvGeom g, int n, int threads) {
        int p = partials(n);
        return threads * colSize(g) + (p > 1 || transposedFilter(g) ? (long) p * g.weightSize() : 0);
    }

    private static final int FORWARD = 0, BACKWARD_DATA = 1, BACKWARD_FILTER = 2;

    void forward(ConvGeom g, int n, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo,
                 float[] ws, int wso) {
        run(FORWARD, g, n, x, xo, w, wo, bias, bo, y, yo, ws, wso);
    }

    void backwardData(ConvGeom g, int n, float[] dy, int dyo, float[] w, int wo, float[] dx, int dxo, float[] ws, int wso) {
        run(BACKWARD_DATA, g, n, dy, dyo, w, wo, null, 0, dx, dxo, ws, wso);
    }

    /** {@code dw} written (not accumulated); {@code db} is computed separately by the caller. */
    void backwardFilter(ConvGeom g, int n, float[] x, int xo, float[] dy, int dyo, float[] dw, int dwo, float[] ws, int wso) {
        int parts = partials(n);
        run(BACKWARD_FILTER, g, n, x, xo, dy, dyo, null, 0, dw, dwo, ws, wso);
        int wsz = g.weightSize();
        int base = (int) (wso + pool.threads() * colSize(g));
        if (transposedFilter(g)) {
            // Sum the dWᵀ partials into the first one in group order, then transpose into dW.
            for (int p = 1; p < parts; p++) VectorOps.add(ws, base, ws, base + p * wsz, ws, base, wsz);
            int patch = g.patchSize(), outC = g.outC();
            for (int oc = 0; oc < outC; oc++)
                for (int r = 0; r < patch; r++) dw[dwo + oc * patch + r] = ws[base + r * outC + oc];
        } else if (parts > 1) {
            System.arraycopy(ws, base, dw, dwo, wsz);
            for (int p = 1; p < parts; p++) VectorOps.add(dw, dwo, ws, base + p * wsz, dw, dwo, wsz);
        }
    }

    private void run(int op, ConvGeom g, int n, float[] a, int ao, float[] b, int bo, float[] bias, int biaso,
                     float[] out, int oo, float[] ws, int wso) {
        Job j = job;
        j.op = op; j.g = g; j.n = n; j.a = a; j.ao = ao; j.b = b; j.bo = bo; j.bias = bias; j.biaso = biaso;
        j.out = out; j.oo = oo; j.ws = ws; j.wso = wso;
        j.col = colSize(g);
        int threads = pool.threads();
        int units = op == BACKWARD_FILTER ? partials(n) : n;
        try {
            if (units >= threads) {
                for (int t = 0; t < threads; t++) gemm.scratch(t);
                j.parallelGemm = false;
                pool.run(j, units);
            } else {
                // Too few units to spread: run them here, each GEMM multithreaded.
                j.parallelGemm = true;
                for (int u = 0; u < units; u++) j.run(u, 0);
            }
        } finally {
            j.a = j.b = j.bias = j.out = j.ws = null;
        }
    }

    private final class Job implements WorkerPool.Task {
        int op, n, ao, bo, biaso, oo, wso;
        long col;
        boolean parallelGemm;
        ConvGeom g;
        float[] a, b, bias, out, ws;

        @Override
        public void run(int unit, int thread) {
            switch (op) {
                case FORWARD -> forwardImage(unit, thread);
                case BACKWARD_DATA -> backwardDataImage(unit, thread);
                default -> filterGroup(unit, thread);
            }
        }

        private void gemm(int thread, boolean ta, boolean tb, int m, int nn, int k, float[] A, int Ao, int lda,
                          float[] B, int Bo, int ldb, float beta, float[] C, int Co, int ldc) {
            if (parallelGemm) gemm.gemm(ta, tb, m, nn, k, 1f, A, Ao, lda, B, Bo, ldb, beta, C, Co, ldc);
            else Sgemm.gemmSerial(gemm.scratch(thread), ta, tb, m, nn, k, 1f, A, Ao, lda, B, Bo, ldb, beta, C, Co, ldc,
                    0, m, 0, nn);
        }

        /** a = x, b = w, out = y. */
        private void forwardImage(int img, int thread) {
            int ohw = g.outH() * g.outW();
            int yo = oo + img * g.outSize(), xo = ao + img * g.inSize();
            if (col == 0) {
                gemm(thread, false, false, g.outC(), ohw, g.inC(), b, bo, g.inC(), a, xo, ohw, 0f, out, yo, ohw);
            } else {
                int co = (int) (wso + thread * col);
                im2col(g, a, xo, ws, co);
                gemm(thread, false, false, g.outC(), ohw, g.patchSize(), b, bo, g.patchSize(), ws, co, ohw, 0f, out, yo, ohw);
            }
            if (bias != null) {
                for (int oc = 0; oc < g.outC(); oc++) VectorOps.addScalar(out, yo + oc * ohw, bias[biaso + oc], ohw);
            }
        }

        /** a = dy, b = w, out = dx. */
        private void backwardDataImage(int img, int thread) {
            int ohw = g.outH() * g.outW();
            int dyo = ao + img * g.outSize(), dxo = oo + img * g.inSize();
            if (col == 0) {
                gemm(thread, true, false, g.inC(), ohw, g.outC(), b, bo, g.inC(), a, dyo, ohw, 0f, out, dxo, ohw);
            } else {
                int co = (int) (wso + thread * col);
                gemm(thread, true, false, g.patchSize(), ohw, g.outC(), b, bo, g.patchSize(), a, dyo, ohw, 0f, ws, co, ohw);
                java.util.Arrays.fill(out, dxo, dxo + g.inSize(), 0f);
                col2im(g, ws, co, out, dxo);
            }
        }

        /** a = x, b = dy, out = dw; one fixed group of images into one partial. */
        private void filterGroup(int group, int thread) {
            int parts = partials(n);
            int b0 = (int) ((long) n * group / parts), b1 = (int) ((long) n * (group + 1) / parts);
            int ohw = g.outH() * g.outW(), patch = g.patchSize(), outC = g.outC();
            boolean transposed = transposedFilter(g), direct = parts == 1 && !transposed;
            float[] dst = direct ? out : ws;
            int dsto = direct ? oo : (int) (wso + pool.threads() * col + (long) group * g.weightSize());
            for (int img = b0; img < b1; img++) {
                int xo = ao + img * g.inSize(), dyo = bo + img * g.outSize();
                float beta = img == b0 ? 0f : 1f;
                if (col == 0) {
                    // dW[outC × inC] += dY_b[outC × HW] · X_bᵀ: X_b is [inC × HW], read transposed.
                    gemm(thread, false, true, g.outC(), g.inC(), ohw, b, dyo, ohw, a, xo, ohw, beta, dst, dsto, g.inC());
                } else {
                    // dW[outC × patch] += dY_b[outC × OHW] · col_bᵀ. Measured on a 32→64 3×3 layer at 14×14:
                    // im2col + transposing B pack 180 µs per image against 265 µs for building colT
                    // directly (3-float strided gathers) and packing it straight.
                    int co = (int) (wso + thread * col);
                    im2col(g, a, xo, ws, co);
                    if (transposed) gemm(thread, false, true, patch, outC, ohw, ws, co, ohw, b, dyo, ohw, beta, dst, dsto, outC);
                    else gemm(thread, false, true, outC, patch, ohw, b, dyo, ohw, ws, co, ohw, beta, dst, dsto, patch);
                }
            }
        }
    }

    // ---- im2col / col2im ----

    /** First output index {@code o} with {@code o·stride − pad + k >= 0}. */
    private static int firstValid(int pad, int k, int stride) {
        int d = pad - k;
        return d <= 0 ? 0 : (d + stride - 1) / stride;
    }

    /** One past the last output index {@code o < out} with {@code o·stride − pad + k < in}. */
    private static int lastValid(int in, int pad, int k, int stride, int out) {
        int lim = in + pad - k; // o·stride < lim
        if (lim <= 0) return 0;
        return Math.min(out, (lim + stride - 1) / stride);
    }

    /** {@code col[(ic·kH + ki)·kW + kj][oh·OW + ow] = x[ic][oh·s − p + ki][ow·s − p + kj]} (0 outside). */
    static void im2col(ConvGeom g, float[] x, int xo, float[] col, int co) {
        int oh = g.outH(), ow = g.outW(), s = g.stride(), p = g.pad(), ih = g.inH(), iw = g.inW();
        int ohw = oh * ow;
        int row = co;
        for (int ic = 0; ic < g.inC(); ic++) {
            int plane = xo + ic * ih * iw;
            for (int ki = 0; ki < g.kH(); ki++) {
                int i0 = firstValid(p, ki, s), i1 = lastValid(ih, p, ki, s, oh);
                for (int kj = 0; kj < g.kW(); kj++, row += ohw) {
                    int j0 = firstValid(p, kj, s), j1 = lastValid(iw, p, kj, s, ow);
                    if (i1 <= i0 || j1 <= j0) {
                        java.util.Arrays.fill(col, row, row + ohw, 0f);
                        continue;
                    }
                    java.util.Arrays.fill(col, row, row + i0 * ow, 0f);
                    java.util.Arrays.fill(col, row + i1 * ow, row + ohw, 0f);
                    int shift = plane + (ki - p) * iw + kj - p; // x index of output (i, j) is shift + i·s·iw + j·s
                    if (s == 1 && ow == iw) {
                        // "Same"-width stride 1: the valid rows are one contiguous shifted copy of the plane;
                        // copy it in one go (≈ 200 floats instead of 14 short copies) and re-zero the few
                        // border columns that wrapped in from the neighbouring row.
                        int from = i0 * ow + j0, to = (i1 - 1) * ow + j1;
                        System.arraycopy(x, shift + from, col, row + from, to - from);
                        if (j0 > 0 || j1 < ow) {
                            for (int i = i0; i < i1; i++) {
                                int r = row + i * ow;
                                for (int j = 0; j < j0; j++) col[r + j] = 0f;
                                for (int j = j1; j < ow; j++) col[r + j] = 0f;
                            }
                        }
                    } else {
                        for (int i = i0; i < i1; i++) {
                            int dst = row + i * ow, src = shift + i * s * iw;
                            for (int j = 0; j < j0; j++) col[dst + j] = 0f;
                            if (s == 1) for (int j = j0; j < j1; j++) col[dst + j] = x[src + j];
                            else for (int j = j0; j < j1; j++) col[dst + j] = x[src + j * s];
                            for (int j = j1; j < ow; j++) col[dst + j] = 0f;
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code dx[ic][oh·s − p + ki][ow·s − p + kj] += col[...]}; the caller zeroes {@code dx} first. For
     * "same"-width stride 1 it first zeroes the border entries of {@code col} that fall outside the image
     * (col is scratch), so each (ic, ki, kj) row becomes one contiguous shifted vector add.
     */
    static void col2im(ConvGeom g, float[] col, int co, float[] dx, int dxo) {
        int oh = g.outH(), ow = g.outW(), s = g.stride(), p = g.pad(), ih = g.inH(), iw = g.inW();
        int ohw = oh * ow;
        int row = co;
        for (int ic = 0; ic < g.inC(); ic++) {
            int plane = dxo + ic * ih * iw;
            for (int ki = 0; ki < g.kH(); ki++) {
                int i0 = firstValid(p, ki, s), i1 = lastValid(ih, p, ki, s, oh);
                for (int kj = 0; kj < g.kW(); kj++, row += ohw) {
                    int j0 = firstValid(p, kj, s), j1 = lastValid(iw, p, kj, s, ow);
                    if (i1 <= i0 || j1 <= j0) continue;
                    int shift = plane + (ki - p) * iw + kj - p;
                    if (s == 1 && ow == iw) {
                        if (j0 > 0 || j1 < ow) {
                            for (int i = i0; i < i1; i++) {
                                int r = row + i * ow;
                                for (int j = 0; j < j0; j++) col[r + j] = 0f;
                                for (int j = j1; j < ow; j++) col[r + j] = 0f;
                            }
                        }
                        int from = i0 * ow + j0, to = (i1 - 1) * ow + j1;
                        VectorOps.add(dx, shift + from, col, row + from, dx, shift + from, to - from);
                    } else {
                        for (int i = i0; i < i1; i++) {
                            int src = row + i * ow, dst = shift + i * s * iw;
                            if (s == 1) VectorOps.add(dx, dst + j0, col, src + j0, dx, dst + j0, j1 - j0);
                            else for (int j = j0; j < j1; j++) dx[dst + j * s] += col[src + j];
                        }
                    }
                }
            }
        }
    }
}
