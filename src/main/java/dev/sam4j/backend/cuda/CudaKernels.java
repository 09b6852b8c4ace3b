package dev.sam4j.backend.cuda;

import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * Typed launchers for every kernel in {@code src/main/cuda}: one method per kernel, its C signature
 * mirrored in the {@link Kernel} signature string (P pointer / long long, I int, F float, D double), the
 * launch rule of the kernel's file header applied here and nowhere else. Pointers are raw device
 * addresses; 0 is C's null.
 */
final class CudaKernels {
    /** Threads per block of the streaming and partial-reduction kernels (SAM4J_BLOCK in common.cuh). */
    static final int BLOCK = 256;
    /** Most partials of a two-pass reduction (reduce_finalize adds them in one block). */
    static final int MAX_PARTIALS = 1024;
    static final int FINALIZE_THREADS = 1024;

    private final CUstream_st stream;
    private final int streamingGridCap;

    final Kernel sumsqPartials, reduceFinalize, dotPartials, samPerturb, asamPerturb, asamNormPartials, perturbScale,
            decideAdaptive, decideTable, secondPassCheck, stepBegin, stepEnd, sgdStep, lookSamCoef, lookSamNorm, lookSamVScale,
            softmaxXent, meanLoss,
            addRowBias, sumRows, reluForward, reluBackward, add, axpby, fill, copy, roundMantissa, permuteChannels,
            f32ToBf16, bf16ToF32, reluForwardBf16, reluBackwardBf16, addBf16, copyBf16, fillBf16, addRowBiasRound, sumRowsBf16,
            softmaxXentBf16, permuteChannelsBf16, channelBiasBf16, channelSumsBf16;

    CudaKernels(CudaModule m, CUstream_st stream, int multiprocessors) {
        this.stream = stream;
        // Enough resident blocks to saturate memory bandwidth; grid-stride loops make any grid correct.
        this.streamingGridCap = Math.max(1, multiprocessors) * 8;
        sumsqPartials = new Kernel(m, "sumsq_partials", "PPP");
        reduceFinalize = new Kernel(m, "reduce_finalize", "PIPP");
        dotPartials = new Kernel(m, "dot_partials", "PPPP");
        samPerturb = new Kernel(m, "sam_perturb", "PPPPPFPP");
        asamPerturb = new Kernel(m, "asam_perturb", "PPPPPFPFP");
        asamNormPartials = new Kernel(m, "asam_norm_partials", "PPPFP");
        perturbScale = new Kernel(m, "perturb_scale", "PDP");
        decideAdaptive = new Kernel(m, "decide_adaptive", "PPPPPDDDPDPPPPI");
        decideTable = new Kernel(m, "decide_table", "PPPPPPDPPPPI");
        secondPassCheck = new Kernel(m, "second_pass_check", "PPPP");
        stepBegin = new Kernel(m, "step_begin", "PPPP");
        stepEnd = new Kernel(m, "step_end", "P");
        sgdStep = new Kernel(m, "sgd_step", "PPPPPFPPPFPFFIPP");
        lookSamCoef = new Kernel(m, "looksam_coef", "PPP");
        lookSamNorm = new Kernel(m, "looksam_norm", "PPDPP");
        lookSamVScale = new Kernel(m, "looksam_vscale", "PPPDPPPP");
        softmaxXent = new Kernel(m, "softmax_xent", "PPPPIIP");
        meanLoss = new Kernel(m, "mean_loss", "PIP");
        addRowBias = new Kernel(m, "add_row_bias", "PPII");
        sumRows = new Kernel(m, "sum_rows", "PPII");
        reluForward = new Kernel(m, "relu_forward", "PPP");
        reluBackward = new Kernel(m, "relu_backward", "PPPP");
        add = new Kernel(m, "add", "PPPP");
        axpby = new Kernel(m, "axpby", "FPPFPPPP");
        fill = new Kernel(m, "fill", "PFP");
        copy = new Kernel(m, "copy", "PPP");
        roundMantissa = new Kernel(m, "round_mantissa", "PPPI");
        permuteChannels = new Kernel(m, "permute_channels", "PPIIPI");
        f32ToBf16 = new Kernel(m, "f32_to_bf16", "PPP");
        bf16ToF32 = new Kernel(m, "bf16_to_f32", "PPP");
        reluForwardBf16 = new Kernel(m, "relu_forward_bf16", "PPP");
        reluBackwardBf16 = new Kernel(m, "relu_backward_bf16", "PPPP");
        addBf16 = new Kernel(m, "add_bf16", "PPPP");
        copyBf16 = new Kernel(m, "copy_bf16", "PPP");
        fillBf16 = new Kernel(m, "fill_bf16", "PFP");
        addRowBiasRound = new Kernel(m, "add_row_bias_round", "PPPII");
        sumRowsBf16 = new Kernel(m, "sum_rows_bf16", "PPII");
        softmaxXentBf16 = new Kernel(m, "softmax_xent_bf16", "PPPPIIP");
        permuteChannelsBf16 = new Kernel(m, "permute_channels_bf16", "PPIIPI");
        channelBiasBf16 = new Kernel(m, "channel_bias_bf16", "PPIIPI");
        channelSumsBf16 = new Kernel(m, "channel_sums_bf16", "PPIIPI");
    }

    /** Blocks of 256 for a streaming pass over n elements (capped: grid-stride loops do the rest). */
    int streamingGrid(long n) {
        return (int) Math.max(1, Math.min(streamingGridCap, (n + BLOCK - 1) / BLOCK));
    }

    /** Partials of a two-pass reduction over n elements: a function of n only, so results are GPU-independent. */
    static int partials(long n) {
        return (int) Math.max(1, Math.min(MAX_PARTIALS, (n + BLOCK - 1) / BLOCK));
    }

    private void stream(Kernel k, long n) { k.launch(stream, streamingGrid(n), BLOCK); }

    private void single(Kernel k) { k.launch(stream, 1, 1); }

    // ---- reductions: *out (double) = Σ ..., *nonfinite = sum is not finite (nonfinite may be 0) ----

    void sumOfSquares(long x, long n, long partials, long out, long nonfinite) {
        int p = partials(n);
        sumsqPartials.p(0, x).p(1, n).p(2, partials).launch(stream, p, BLOCK);
        finish(partials, p, out, nonfinite);
    }

    void dot(long a, long b, long n, long partials, long out) {
        int p = partials(n);
        dotPartials.p(0, a).p(1, b).p(2, n).p(3, partials).launch(stream, p, BLOCK);
        finish(partials, p, out, 0);
    }

    void asamNormSquared(long w, long g, long n, float eta, long partials, long out) {
        int p = partials(n);
        asamNormPartials.p(0, w).p(1, g).p(2, n).f(3, eta).p(4, partials).launch(stream, p, BLOCK);
        finish(partials, p, out, 0);
    }

    private void finish(long partials, int count, long out, long nonfinite) {
        reduceFinalize.p(0, partials).i(1, count).p(2, out).p(3, nonfinite).launch(stream, 1, FINALIZE_THREADS);
    }

    // ---- SAM family ----

    // shadow (0 for none): the bf16 shadow of w, written in the same pass (a bf16 run's layers read it).

    void samPerturb(long w, long g, long wSaved, long gSaved, long n, float scale, long scalePtr, long shadow) {
        samPerturb.p(0, w).p(1, g).p(2, wSaved).p(3, gSaved).p(4, n).f(5, scale).p(6, scalePtr).p(7, shadow);
        stream(samPerturb, n);
    }

    void asamPerturb(long w, long g, long wSaved, long gSaved, long n, float scale, long scalePtr, float eta, long shadow) {
        asamPerturb.p(0, w).p(1, g).p(2, wSaved).p(3, gSaved).p(4, n).f(5, scale).p(6, scalePtr).f(7, eta).p(8, shadow);
        stream(asamPerturb, n);
    }

    void perturbScale(long q, double rho, long scaleOut) {
        perturbScale.p(0, q).d(1, rho).p(2, scaleOut);
        single(perturbScale);
    }

    /**
     * {@code w = (restore ? wSaved : w) − lr·(momentum update with g [+ vScale·v])}; see sgd.cu. wSaved,
     * restoreFlag, v, vScalePtr, lrPtr and skip may be 0. If {@code skip} (a device unsigned int) is set, nothing is
     * updated, and on the restore path the saved weights are copied back. {@code shadow} (may be 0): the bf16
     * shadow of w, written wherever w is.
     */
    void sgdStep(long w, long wSaved, long restoreFlag, long g, long v, float vScale, long vScalePtr, long m, long n,
                 float lr, long lrPtr, float momentum, float weightDecay, boolean nesterov, long skip, long shadow) {
        sgdStep.p(0, w).p(1, wSaved).p(2, restoreFlag).p(3, g).p(4, v).f(5, vScale).p(6, vScalePtr).p(7, m).p(8, n)
                .f(9, lr).p(10, lrPtr).f(11, momentum).f(12, weightDecay).i(13, nesterov ? 1 : 0).p(14, skip).p(15, shadow);
        stream(sgdStep, n);
    }

    void lookSamCoef(long dot, long s, long coefOut) {
        lookSamCoef.p(0, dot).p(1, s).p(2, coefOut);
        single(lookSamCoef);
    }

    void lookSamNorm(long gvNew, long samSumSquares, double floorSquared, long skip, long gvSumSquaresOut) {
        lookSamNorm.p(0, gvNew).p(1, samSumSquares).d(2, floorSquared).p(3, skip).p(4, gvSumSquaresOut);
        single(lookSamNorm);
    }

    /** LookSAM's reuse weight; without {@code age} (0) {@code g_v} never expires and {@code skip} is not read. */
    void lookSamVScale(long s, long gvSumsq, long samFlag, double alpha, long vScaleOut) {
        lookSamVScale(s, gvSumsq, samFlag, alpha, vScaleOut, 0, 0, 0);
    }

    /**
     * LookSAM's reuse weight with {@code g_v}'s age kept at {@code age} (a device long long, or 0 for none):
     * reset on a SAM step, one more on an ERM step with a stored {@code g_v}, untouched when {@code *skip};
     * {@code g_v} is not reused once older than {@code maxAge} (0: never expires).
     */
    void lookSamVScale(long s, long gvSumsq, long samFlag, double alpha, long vScaleOut, long skip, long age, long maxAge) {
        lookSamVScale.p(0, s).p(1, gvSumsq).p(2, samFlag).d(3, alpha).p(4, vScaleOut).p(5, skip).p(6, age).p(7, maxAge);
        single(lookSamVScale);
    }

    // ---- layers ----

    void softmaxCrossEntropy(long logits, long labels, long dLogits, long loss, int n, int classes, long badLabel) {
        softmax(softmaxXent, logits, labels, dLogits, loss, n, classes, badLabel);
    }

    void meanLoss(long loss, int n, long out) {
        meanLoss.p(0, loss).i(1, n).p(2, out).launch(stream, 1, BLOCK);
    }

    void addRowBias(long y, long bias, int rows, int cols) {
        addRowBias.p(0, y).p(1, bias).i(2, rows).i(3, cols);
        stream(addRowBias, (long) rows * cols);
    }

    void sumRows(long dy, long db, int rows, int cols) {
        sumRows.p(0, dy).p(1, db).i(2, rows).i(3, cols).launch(stream, (cols + BLOCK - 1) / BLOCK, BLOCK);
    }

    void reluForward(long x, long y, long n) { reluForward.p(0, x).p(1, y).p(2, n); stream(reluForward, n); }

    void reluBackward(long y, long dy, long dx, long n) { reluBackward.p(0, y).p(1, dy).p(2, dx).p(3, n); stream(reluBackward, n); }

    void add(long a, long b, long out, long n) { add.p(0, a).p(1, b).p(2, out).p(3, n); stream(add, n); }

    /** {@code out = α·x + β·y}, α from {@code alphaPtr} unless 0; nothing written if {@code skip} (0 or a device flag) is set. */
    void axpby(float alpha, long alphaPtr, long x, float beta, long y, long out, long n, long skip) {
        axpby.f(0, alpha).p(1, alphaPtr).p(2, x).f(3, beta).p(4, y).p(5, out).p(6, n).p(7, skip);
        stream(axpby, n);
    }

    void fill(long x, float value, long n) { fill.p(0, x).f(1, value).p(2, n); stream(fill, n); }

    void copy(long src, long dst, long n) { copy.p(0, src).p(1, dst).p(2, n); stream(copy, n); }

    /** {@code y = x} rounded to nearest even keeping {@code 23 − drop} mantissa bits, NaN kept. */
    void roundMantissa(long x, long y, long n, int drop) {
        roundMantissa.p(0, x).p(1, y).p(2, n).i(3, drop);
        stream(roundMantissa, n);
    }

    /**
     * {@code dst = src} permuted NCHW → NHWC ({@code toNhwc}) or back, {@code n} images of {@code c × hw}
     * (layout.cu: 32 × 32 tiles, blocks of 256, grid-stride over the tiles).
     */
    void permuteChannels(long src, long dst, int n, int c, long hw, boolean toNhwc) { permute(permuteChannels, src, dst, n, c, hw, toNhwc); }

    /** {@link #permuteChannels} on 16-bit bf16 elements. */
    void permuteChannelsBf16(long src, long dst, int n, int c, long hw, boolean toNhwc) {
        permute(permuteChannelsBf16, src, dst, n, c, hw, toNhwc);
    }

    private void permute(Kernel k, long src, long dst, int n, int c, long hw, boolean toNhwc) {
        long tiles = (long) n * ((c + 31) / 32) * ((hw + 31) / 32);
        k.p(0, src).p(1, dst).i(2, n).i(3, c).p(4, hw).i(5, toNhwc ? 1 : 0);
        k.launch(stream, (int) Math.max(1, Math.min(streamingGridCap, tiles)), BLOCK);
    }

    // ---- bf16 storage (bf16.cu; the 16-bit permutation and loss above): x, y... are 16-bit buffers unless named fp32 ----

    void f32ToBf16(long x, long y, long n) { f32ToBf16.p(0, x).p(1, y).p(2, n); stream(f32ToBf16, n); }

    void bf16ToF32(long x, long y, long n) { bf16ToF32.p(0, x).p(1, y).p(2, n); stream(bf16ToF32, n); }

    void reluForwardBf16(long x, long y, long n) { reluForwardBf16.p(0, x).p(1, y).p(2, n); stream(reluForwardBf16, n); }

    void reluBackwardBf16(long y, long dy, long dx, long n) {
        reluBackwardBf16.p(0, y).p(1, dy).p(2, dx).p(3, n);
        stream(reluBackwardBf16, n);
    }

    void addBf16(long a, long b, long out, long n) { addBf16.p(0, a).p(1, b).p(2, out).p(3, n); stream(addBf16, n); }

    void copyBf16(long src, long dst, long n) { copyBf16.p(0, src).p(1, dst).p(2, n); stream(copyBf16, n); }

    void fillBf16(long x, float v, long n) { fillBf16.p(0, x).f(1, v).p(2, n); stream(fillBf16, n); }

    /** {@code y = bf16(acc + bias)} row-wise, {@code acc} fp32, {@code bias} bf16 or 0. */
    void addRowBiasRound(long acc, long bias, long y, int rows, int cols) {
        addRowBiasRound.p(0, acc).p(1, bias).p(2, y).i(3, rows).i(4, cols);
        stream(addRowBiasRound, (long) rows * cols);
    }

    /** {@code db} fp32. */
    void sumRowsBf16(long dy, long db, int rows, int cols) {
        sumRowsBf16.p(0, dy).p(1, db).i(2, rows).i(3, cols);
        sumRowsBf16.launch(stream, (cols + BLOCK - 1) / BLOCK, BLOCK);
    }

    /** bf16 logits; labels, dLogits and loss fp32. */
    void softmaxCrossEntropyBf16(long logits, long labels, long dLogits, long loss, int n, int classes, long badLabel) {
        softmax(softmaxXentBf16, logits, labels, dLogits, loss, n, classes, badLabel);
    }

    private void softmax(Kernel k, long logits, long labels, long dLogits, long loss, int n, int classes, long badLabel) {
        k.p(0, logits).p(1, labels).p(2, dLogits).p(3, loss).i(4, n).i(5, classes).p(6, badLabel).launch(stream, (n + BLOCK - 1) / BLOCK, BLOCK);
    }

    /** {@code y = bf16(y + bias[channel])}, bias bf16. */
    void channelBiasBf16(long y, long bias, int n, int c, long hw, boolean nhwc) {
        channelBiasBf16.p(0, y).p(1, bias).i(2, n).i(3, c).p(4, hw).i(5, nhwc ? 1 : 0);
        stream(channelBiasBf16, (long) n * c * hw);
    }

    /** {@code db[channel] = Σ dy} (db fp32), one block per channel. */
    void channelSumsBf16(long dy, long db, int n, int c, long hw, boolean nhwc) {
        channelSumsBf16.p(0, dy).p(1, db).i(2, n).i(3, c).p(4, hw).i(5, nhwc ? 1 : 0);
        channelSumsBf16.launch(stream, c, BLOCK);
    }

    // ---- the device-decided step ----

    /** {@code flag}: the SAM flag, so that an ERM step checks nothing (ranks run it after the conditional node), or 0. */
    void secondPassCheck(long outcome, long stats, long counters, long flag) {
        secondPassCheck.p(0, outcome).p(1, stats).p(2, counters).p(3, flag);
        single(secondPassCheck);
    }

    void stepBegin(long lrTable, long tableLength, long counters, long lrOut) {
        stepBegin.p(0, lrTable).p(1, tableLength).p(2, counters).p(3, lrOut);
        single(stepBegin);
    }
}
