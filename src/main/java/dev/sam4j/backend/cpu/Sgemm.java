package dev.sam4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM, {@code C = alpha·op(A)·op(B) + beta·C}, row-major with arbitrary leading
 * dimensions, in the Goto/BLIS shape: {@code k} is cut into equal slabs of at most {@link #KC}; for each
 * slab a {@code kc × NC} panel of {@code op(B)} is packed into {@link #NR}-wide column slivers and an
 * {@code MC × kc} block of {@code op(A)} into {@link #MR}-tall row slivers; a register-blocked
 * micro-kernel multiplies one A sliver by one B sliver into an {@code MR × NR} tile with vector FMAs
 * (B rows are vector loads, A values broadcasts). Packing turns every transpose/leading-dimension case
 * into two small contiguous streams and zero-pads the edges, so the kernel never branches. Loop order
 * per slab (BLIS): column slivers outside, row slivers inside, so a B sliver ({@code kc × NR}, 20 KiB)
 * stays in L1 while the A block ({@code MC × kc}, 240 KiB) streams from L2. Measured single-thread
 * against the opposite order (A sliver in L1, a 640 KiB B panel streamed from L2): 2–20 % faster on the
 * MLP and conv shapes, equal on 1024³.
 *
 * <p><b>Kernel shape.</b> {@link VectorWidths} picks the vector width (256 bits by default). At 128 and 256
 * bits the kernel is 4 rows × 2 vectors; at 512 it is 6 × 3. On AVX2 (and on AVX-512 Xeons, where HotSpot
 * defaults to {@code -XX:UseAVX=2}) vectors hold 8 floats and there are 16 vector registers: the kernel
 * is 4 rows × 2 vectors (8 accumulators). The textbook 6 × 2 (12 accumulators + 2 B + broadcasts) runs
 * 67 GFLOP/s alone but C2's scheduler keeps three broadcasts live and spills an accumulator inside the
 * loop when the kernel is compiled in the GEMM, which made it slower in the GEMM than 4 × 2 (measured
 * single-thread CPU time: 1024³ 42 vs 44–47, MLP shape 35–39 vs 42–46, conv shapes 32–38 vs 37–43);
 * 4 also divides the batch and channel counts (32, 64, 128) that dominate here. With
 * 512-bit vectors ({@code -Dsam4j.cpu.vectorBits=512} on an AVX-512 CPU whose JVM uses them) vectors hold 16 floats with 32 registers and the kernel is 6 × 3 (18
 * accumulators; ≈ 100–120 GFLOP/s alone on the same core).
 *
 * <p><b>Threads.</b> {@link #gemm} gives each thread one contiguous range of whole tiles (along the
 * longer side, in tiles); each runs the serial blocked algorithm on its range with its own packing
 * buffers, duplicating the packing of the shared operand (a {@code 1/other-dimension} share of the
 * work). Slab boundaries and the tile grid do not depend on the thread count and every element of C is
 * produced by the same sequence of operations, so results are bit-identical for any number of threads.
 *
 * <p>Not thread-safe: one instance serves one caller at a time (the backend's).
 */
final class Sgemm {
    static final VectorSpecies<Float> S = VectorWidths.FLOATS;
    static final int L = S.length();
    /** Micro-tile rows (broadcast A values). */
    static final int MR;
    /** Vectors per micro-tile row. */
    static final int NV;
    /** Micro-tile columns. */
    static final int NR;
    /**
     * Maximum depth of a packed slab: a {@code KC × NR} B sliver (20 KiB at 8 lanes) stays in L1. The
     * depth actually used is {@code k} split into equal slabs ({@link #slabDepth}), so that e.g. k = 288
     * (a 3×3×32 patch) is one slab instead of 256 + a 32-deep remainder whose C-tile reloads cost more
     * than its FMAs.
     */
    static final int KC = 320;
    /** Rows of A per packed block: {@code MC × KC} floats (240 KiB) stay in L2. */
    static final int MC;
    /** Columns of B per packed panel: {@code KC × NC} floats (2.5 MiB) live in L3; one sliver at a time in L1. */
    static final int NC;

    static {
        MR = L == 16 ? 6 : 4;
        NV = L == 16 ? 3 : 2;
        NR = NV * L;
        MC = MR * (192 / MR);
        NC = NR * (2048 / NR);
    }

    /** Mantissa bits TF32 drops from fp32's 23. */
    static final int TF32_DROP = 23 - dev.sam4j.backend.Precision.TF32.mantissaBits();

    /** Per-thread packing buffers (allocated once per thread, on first use). */
    static final class Scratch {
        /** Round each packed panel to TF32 (emulating tensor cores' input conversion); false: fp32 as given. */
        final boolean tf32;
        final float[] pa = new float[MC * KC];
        final float[] pb = new float[NC * KC];
        final float[] tile = new float[MR * NR];

        Scratch(boolean tf32) { this.tf32 = tf32; }
    }

    private final WorkerPool pool;
    private final Scratch[] scratch;
    private final boolean tf32;
    private final Job job = new Job();

    Sgemm(WorkerPool pool) { this(pool, false); }

    /** With {@code tf32}, every product reads its inputs rounded to TF32 (to nearest even), accumulating in fp32. */
    Sgemm(WorkerPool pool, boolean tf32) {
        this.pool = pool;
        this.tf32 = tf32;
        this.scratch = new Scratch[pool.threads()];
    }

    /** The per-thread scratch for {@code thread}, created on first use (outside the steady state). */
    Scratch scratch(int thread) {
        Scratch s = scratch[thread];
        if (s == null) scratch[thread] = s = new Scratch(tf32);
        return s;
    }

    /** Below this many multiply-adds a GEMM runs on the calling thread: hand-off would cost more. */
    static final long PARALLEL_MIN_FMAS = 1L << 17;

    /** Multithreaded GEMM over the pool. Arguments are not validated here (the backend does it). */
    void gemm(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int ao, int lda,
              float[] b, int bo, int ldb, float beta, float[] c, int co, int ldc) {
        if (m <= 0 || n <= 0) return;
        int threads = pool.threads();
        int tilesM = (m + MR - 1) / MR, tilesN = (n + NR - 1) / NR;
        boolean splitN = tilesN >= tilesM || tilesN >= threads * 4;
        int tiles = splitN ? tilesN : tilesM;
        int parts = (long) m * n * k < PARALLEL_MIN_FMAS ? 1 : Math.min(threads, tiles);
        if (parts == 1) {
            gemmSerial(scratch(0), ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc, 0, m, 0, n);
            return;
        }
        for (int t = 0; t < threads; t++) scratch(t);
        Job j = job;
        j.ta = ta; j.tb = tb; j.m = m; j.n = n; j.k = k; j.alpha = alpha; j.a = a; j.ao = ao; j.lda = lda;
        j.b = b; j.bo = bo; j.ldb = ldb; j.beta = beta; j.c = c; j.co = co; j.ldc = ldc;
        j.splitN = splitN; j.tiles = tiles; j.parts = parts;
        try {
            pool.run(j, parts);
        } finally {
            j.a = j.b = j.c = null;
        }
    }

    private final class Job implements WorkerPool.Task {
        boolean ta, tb, splitN;
        int m, n, k, ao, lda, bo, ldb, co, ldc, tiles, parts;
        float alpha, beta;
        float[] a, b, c;

        @Override
        public void run(int part, int thread) {
            int t0 = (int) ((long) tiles * part / parts), t1 = (int) ((long) tiles * (part + 1) / parts);
            if (splitN) {
                gemmSerial(scratch[thread], ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc,
                        0, m, t0 * NR, Math.min(n, t1 * NR));
            } else {
                gemmSerial(scratch[thread], ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc,
                        t0 * MR, Math.min(m, t1 * MR), 0, n);
            }
        }
    }

    /**
     * Computes rows {@code [i0, i1)} × columns {@code [j0, j1)} of C on the calling thread. {@code i0} must be
     * a multiple of {@link #MR} and {@code j0} of {@link #NR} so the tile grid is that of the whole matrix.
     */
    static void gemmSerial(Scratch s, boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int ao,
                           int lda, float[] b, int bo, int ldb, float beta, float[] c, int co, int ldc,
                           int i0, int i1, int j0, int j1) {
        if (i0 >= i1 || j0 >= j1) return;
        if (k == 0 || alpha == 0) {
            scale(beta, c, co, ldc, i0, i1, j0, j1);
            return;
        }
        int depth = slabDepth(k);
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += depth) {
                int kc = Math.min(depth, k - pc);
                if (tb) packBT(b, bo, ldb, pc, kc, jc, nc, s.pb);
                else packBN(b, bo, ldb, pc, kc, jc, nc, s.pb);
                // Rounding the packed copy, never the caller's matrix; the zero padding stays zero.
                if (s.tf32) VectorOps.roundMantissa(s.pb, 0, s.pb, 0, (nc + NR - 1) / NR * NR * kc, TF32_DROP);
                float betaEff = pc == 0 ? beta : 1f;
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    if (ta) packAT(a, ao, lda, ic, mc, pc, kc, s.pa);
                    else packAN(a, ao, lda, ic, mc, pc, kc, s.pa);
                    if (s.tf32) VectorOps.roundMantissa(s.pa, 0, s.pa, 0, (mc + MR - 1) / MR * MR * kc, TF32_DROP);
                    macro(s, kc, mc, nc, alpha, betaEff, c, co + ic * ldc + jc, ldc);
                }
            }
        }
    }

    /** Slab depth for a given {@code k}: the fewest slabs of at most {@link #KC}, of equal depth. A function of k only. */
    static int slabDepth(int k) {
        int slabs = (k + KC - 1) / KC;
        return (k + slabs - 1) / slabs;
    }

    /** {@code C = beta·C} on a region; {@code beta == 0} writes zeros without reading (NaN-safe). */
    private static void scale(float beta, float[] c, int co, int ldc, int i0, int i1, int j0, int j1) {
        for (int i = i0; i < i1; i++) {
            int r = co + i * ldc;
            if (beta == 0) java.util.Arrays.fill(c, r + j0, r + j1, 0f);
            else if (beta != 1) for (int j = j0; j < j1; j++) c[r + j] *= beta;
        }
    }

    private static void macro(Scratch s, int kc, int mc, int nc, float alpha, float beta, float[] c, int cOff, int ldc) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            for (int ir = 0; ir < mc; ir += MR) tile(s, kc, ir, Math.min(MR, mc - ir), jr, nr, alpha, beta, c, cOff, ldc);
        }
    }

    private static void tile(Scratch s, int kc, int ir, int mr, int jr, int nr, float alpha, float beta, float[] c,
                             int cOff, int ldc) {
        int aOff = ir * kc, bOff = jr * kc;
        int ct = cOff + ir * ldc + jr;
        if (mr == MR && nr == NR && alpha == 1f && beta == 0f) {
            kernel(kc, s.pa, aOff, s.pb, bOff, c, ct, ldc);
            return;
        }
        // Accumulating slabs, edge tiles and general alpha/beta: the product goes to scratch, then
        // C = alpha·t + beta·C (beta == 0: C not read). Multiplying by 1 is exact, so an element gets the
        // same bits here as in the direct path above, wherever it sits.
        float[] t = s.tile;
        kernel(kc, s.pa, aOff, s.pb, bOff, t, 0, NR);
        if (nr == NR) {
            if (alpha == 1f && beta == 1f) {
                for (int r = 0; r < mr; r++) {
                    int cr = ct + r * ldc, tr = r * NR;
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(S, t, tr + v).add(FloatVector.fromArray(S, c, cr + v)).intoArray(c, cr + v);
                    }
                }
                return;
            }
            FloatVector av = FloatVector.broadcast(S, alpha), bv = FloatVector.broadcast(S, beta);
            for (int r = 0; r < mr; r++) {
                int cr = ct + r * ldc, tr = r * NR;
                // separate loops rather than a conditionally updated vector (see the kernels' note)
                if (beta == 0f) {
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, t, tr + v).mul(av).intoArray(c, cr + v);
                } else {
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(S, t, tr + v).mul(av).add(FloatVector.fromArray(S, c, cr + v).mul(bv))
                                .intoArray(c, cr + v);
                    }
                }
            }
        } else {
            for (int r = 0; r < mr; r++) {
                int cr = ct + r * ldc, tr = r * NR;
                if (beta == 0) for (int j = 0; j < nr; j++) c[cr + j] = alpha * t[tr + j];
                else for (int j = 0; j < nr; j++) c[cr + j] = alpha * t[tr + j] + beta * c[cr + j];
            }
        }
    }

    // ---- packing ----

    /** A not transposed ({@code A[i][p] = a[ao + i·lda + p]}) into MR-row slivers, p-major, zero-padded. */
    static void packAN(float[] a, int ao, int lda, int ic, int mc, int pc, int kc, float[] pa) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int dst = ir * kc;
            for (int r = 0; r < mr; r++) {
                int src = ao + (ic + ir + r) * lda + pc;
                for (int p = 0; p < kc; p++) pa[dst + p * MR + r] = a[src + p];
            }
            for (int r = mr; r < MR; r++) for (int p = 0; p < kc; p++) pa[dst + p * MR + r] = 0f;
        }
    }

    /** A transposed ({@code A[i][p] = a[ao + p·lda + i]}): each sliver row is a contiguous run of A's storage. */
    static void packAT(float[] a, int ao, int lda, int ic, int mc, int pc, int kc, float[] pa) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int dst = ir * kc;
            for (int p = 0; p < kc; p++) {
                int src = ao + (pc + p) * lda + ic + ir, d = dst + p * MR;
                int r = 0;
                for (; r < mr; r++) pa[d + r] = a[src + r];
                for (; r < MR; r++) pa[d + r] = 0f;
            }
        }
    }

    /** B not transposed ({@code B[p][j] = b[bo + p·ldb + j]}): each sliver row is NR contiguous floats. */
    static void packBN(float[] b, int bo, int ldb, int pc, int kc, int jc, int nc, float[] pb) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int dst = jr * kc;
            if (nr == NR) {
                for (int p = 0; p < kc; p++) {
                    int src = bo + (pc + p) * ldb + jc + jr, d = dst + p * NR;
                    for (int v = 0; v < NV; v++) FloatVector.fromArray(S, b, src + v * L).intoArray(pb, d + v * L);
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int src = bo + (pc + p) * ldb + jc + jr, d = dst + p * NR;
                    int j = 0;
                    for (; j < nr; j++) pb[d + j] = b[src + j];
                    for (; j < NR; j++) pb[d + j] = 0f;
                }
            }
        }
    }

    /** B transposed ({@code B[p][j] = b[bo + j·ldb + p]}): a transpose; reads run along p. */
    static void packBT(float[] b, int bo, int ldb, int pc, int kc, int jc, int nc, float[] pb) {
        // Blocked over p: a whole sliver (kc × NR floats: 50 KiB at NR = 48) does not fit L1, and walking
        // all of it once per column j made the scattered stores miss (measured 3.7× slower at NR = 48).
        final int pBlock = 64;
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int dst = jr * kc;
            for (int p0 = 0; p0 < kc; p0 += pBlock) {
                int p1 = Math.min(kc, p0 + pBlock);
                for (int j = 0; j < nr; j++) {
                    int src = bo + (jc + jr + j) * ldb + pc;
                    for (int p = p0; p < p1; p++) pb[dst + p * NR + j] = b[src + p];
                }
                for (int j = nr; j < NR; j++) for (int p = p0; p < p1; p++) pb[dst + p * NR + j] = 0f;
            }
        }
    }

    // ---- micro-kernels ----

    /**
     * {@code C[MR × NR] = A-sliver · B-sliver}: the micro-kernel, whose epilogue only stores. Anything
     * else live across the k loop costs registers: with AVX2's 16 vector registers (12 accumulators + 2 B
     * + 1–2 broadcasts) C2 spilled an accumulator to the stack inside the loop when the kernel also took
     * alpha/beta or an accumulate flag, and the 6×2 kernel fell from 67 to 28–45 GFLOP/s. Accumulation
     * and scaling are done by {@link #tile} on the stored result instead.
     *
     * <p>The kernels' note: never choose a vector with {@code ?:} or assign one in a branch. A vector
     * value through a control-flow merge is one C2 may fail to keep in registers: it is then boxed on
     * the heap and the operation runs its Java fallback (measured 128–1344 bytes allocated per kernel
     * call with an epilogue written that way). {@code CpuBackendAllocationTest} guards this.
     */
    static void kernel(int kc, float[] a, int ao, float[] b, int bo, float[] c, int co, int ldc) {
        if (NV == 3) k6x3(kc, a, ao, b, bo, c, co, ldc);
        else k4x2(kc, a, ao, b, bo, c, co, ldc);
    }

    private static void k4x2(int kc, float[] a, int ao, float[] b, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (2 * L), ai = ao + p * 4;
            FloatVector b0 = FloatVector.fromArray(S, b, bi + 0 * L);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + 1 * L);
            FloatVector x0 = FloatVector.broadcast(S, a[ai + 0]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31);
        }
        c00.intoArray(c, co + 0 * ldc + 0 * L);
        c01.intoArray(c, co + 0 * ldc + 1 * L);
        c10.intoArray(c, co + 1 * ldc + 0 * L);
        c11.intoArray(c, co + 1 * ldc + 1 * L);
        c20.intoArray(c, co + 2 * ldc + 0 * L);
        c21.intoArray(c, co + 2 * ldc + 1 * L);
        c30.intoArray(c, co + 3 * ldc + 0 * L);
        c31.intoArray(c, co + 3 * ldc + 1 * L);
    }

    private static void k6x3(int kc, float[] a, int ao, float[] b, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (3 * L), ai = ao + p * 6;
            FloatVector b0 = FloatVector.fromArray(S, b, bi + 0 * L);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + 1 * L);
            FloatVector b2 = FloatVector.fromArray(S, b, bi + 2 * L);
            FloatVector x0 = FloatVector.broadcast(S, a[ai + 0]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01); c02 = x0.fma(b2, c02);
            FloatVector x1 = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11); c12 = x1.fma(b2, c12);
            FloatVector x2 = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21); c22 = x2.fma(b2, c22);
            FloatVector x3 = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31); c32 = x3.fma(b2, c32);
            FloatVector x4 = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x4.fma(b0, c40); c41 = x4.fma(b1, c41); c42 = x4.fma(b2, c42);
            FloatVector x5 = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x5.fma(b0, c50); c51 = x5.fma(b1, c51); c52 = x5.fma(b2, c52);
        }
        c00.intoArray(c, co + 0 * ldc + 0 * L);
        c01.intoArray(c, co + 0 * ldc + 1 * L);
        c02.intoArray(c, co + 0 * ldc + 2 * L);
        c10.intoArray(c, co + 1 * ldc + 0 * L);
        c11.intoArray(c, co + 1 * ldc + 1 * L);
        c12.intoArray(c, co + 1 * ldc + 2 * L);
        c20.intoArray(c, co + 2 * ldc + 0 * L);
        c21.intoArray(c, co + 2 * ldc + 1 * L);
        c22.intoArray(c, co + 2 * ldc + 2 * L);
        c30.intoArray(c, co + 3 * ldc + 0 * L);
        c31.intoArray(c, co + 3 * ldc + 1 * L);
        c32.intoArray(c, co + 3 * ldc + 2 * L);
        c40.intoArray(c, co + 4 * ldc + 0 * L);
        c41.intoArray(c, co + 4 * ldc + 1 * L);
        c42.intoArray(c, co + 4 * ldc + 2 * L);
        c50.intoArray(c, co + 5 * ldc + 0 * L);
        c51.intoArray(c, co + 5 * ldc + 1 * L);
        c52.intoArray(c, co + 5 * ldc + 2 * L);
    }
}
