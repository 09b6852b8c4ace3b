package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;

/**
 * Batch normalisation per channel over N, H, W of {@code [C, H, W]} inputs (or over N of {@code [C]}
 * inputs, e.g. after a Linear). {@code y = γ·(x − mean)/sqrt(var + eps) + β}.
 * <ul>
 *   <li>{@link Mode#TRAIN}: batch mean and biased variance; running statistics updated PyTorch-style
 *       ({@code run = (1 − momentum)·run + momentum·batch}, unbiased variance);</li>
 *   <li>{@link Mode#TRAIN_FROZEN_STATS}: the same output, running statistics untouched (SAM's pass 2);</li>
 *   <li>{@link Mode#EVAL}: running statistics. Backward is supported here too (a fixed per-channel
 *       affine map), mainly so that the gradient can be checked; training never needs it.</li>
 * </ul>
 * Tensors: {@code <prefix>.weight} (γ, BN_SCALE) and {@code <prefix>.bias} (β, BN_SHIFT) in the parameter
 * layout; {@code <prefix>.running_mean} and {@code <prefix>.running_var} in the state layout — PyTorch's names.
 */
public final class BatchNorm2d implements Layer {
    private final int channels;
    private final double momentum, eps;

    private int hw;
    private ParamSpec gammaSpec, betaSpec, meanSpec, varSpec;
    private Context ctx;
    private Backend be;
    private Buffer gamma, beta, dGamma, dBeta;  // [C]
    private Buffer runMean, runVar;            // [C], state arena
    private Buffer saveMean, saveInvStd;       // [C], batch statistics of the last training forward
    private Buffer ones, zeros, evalInvStd;    // [C], only for backward after an EVAL forward
    private Buffer y, dx;                      // [maxBatch, C, H, W]
    private Buffer x;                          // input of the last forward
    private Mode lastMode;

    public BatchNorm2d(int channels, double momentum, double eps) {
        if (channels <= 0) throw new IllegalArgumentException("BatchNorm2d channels must be positive, got " + channels);
        if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("BatchNorm2d momentum must be in [0, 1], got " + momentum);
        if (!(eps > 0)) throw new IllegalArgumentException("BatchNorm2d eps must be positive, got " + eps);
        this.channels = channels;
        this.momentum = momentum;
        this.eps = eps;
    }

    /** PyTorch's defaults: momentum 0.1, eps 1e-5. */
    public BatchNorm2d(int channels) { this(channels, 0.1, 1e-5); }

    public double momentum() { return momentum; }
    public double eps() { return eps; }

    @Override public boolean usesSpatialOps() { return true; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if ((input.rank() != 3 && input.rank() != 1) || input.dim(0) != channels) {
            throw new IllegalArgumentException(prefix + ": BatchNorm2d expects per-example input [" + channels
                    + ", H, W] or [" + channels + "], got " + input);
        }
        hw = input.rank() == 3 ? input.dim(1) * input.dim(2) : 1;
        gammaSpec = params.add(Layer.join(prefix, "weight"), Shape.of(channels), Role.BN_SCALE);
        betaSpec = params.add(Layer.join(prefix, "bias"), Shape.of(channels), Role.BN_SHIFT);
        meanSpec = state.add(Layer.join(prefix, "running_mean"), Shape.of(channels), Role.RUNNING_MEAN);
        varSpec = state.add(Layer.join(prefix, "running_var"), Shape.of(channels), Role.RUNNING_VAR);
        return input;
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        // Scale and shift from the fp32 weights, never the bf16 shadow: BatchNorm's parameters stay fp32.
        gamma = ctx.param(gammaSpec);
        beta = ctx.param(betaSpec);
        dGamma = ctx.grad(gammaSpec);
        dBeta = ctx.grad(betaSpec);
        runMean = ctx.state(meanSpec);
        runVar = ctx.state(varSpec);
        saveMean = ctx.allocate(channels);
        saveInvStd = ctx.allocate(channels);
        ones = ctx.allocate(channels);
        be.fill(ones, 1f, channels);
        zeros = ctx.allocate(channels);
        evalInvStd = ctx.allocate(channels);
        long size = (long) maxBatch * channels * hw;
        y = ctx.allocateStored(size);
        dx = ctx.allocateStored(size);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        this.x = x;
        this.lastMode = mode;
        Buffer yn = y.slice(0, (long) n * channels * hw);
        if (mode.training()) {
            be.batchNormForwardTraining(n, channels, hw, x, gamma, beta, yn, runMean, runVar, momentum, eps,
                    mode == Mode.TRAIN, saveMean, saveInvStd);
        } else {
            be.batchNormForwardInference(n, channels, hw, x, gamma, beta, yn, runMean, runVar, eps);
        }
        return ctx.stored(yn, (long) n * channels * hw);
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        Buffer dxn = dx.slice(0, (long) n * channels * hw);
        if (lastMode == null) throw new IllegalStateException("BatchNorm2d.backward before forward");
        if (lastMode.training()) {
            be.batchNormBackward(n, channels, hw, x, dy, gamma, saveMean, saveInvStd, dxn, dGamma, dBeta);
            return ctx.stored(dxn, dxn.length());
        }
        // EVAL: y = γ·inv·(x − μ_run) + β with fixed inv = 1/sqrt(var_run + eps). The backend has no op for
        // this backward, so it is composed from existing ones (off the hot path):
        // inv = inference-BN of a ones vector with zero mean and shift;
        be.batchNormForwardInference(1, channels, 1, ones, ones, zeros, evalInvStd, zeros, runVar, eps);
        // dγ = Σ dy·(x − μ_run)·inv and dβ = Σ dy come out of the training backward given (μ_run, inv);
        // its dx (which assumes batch statistics) is wrong here and overwritten next;
        be.batchNormBackward(n, channels, hw, x, dy, gamma, runMean, evalInvStd, dxn, dGamma, dBeta);
        // dx = γ·inv·dy is inference-BN applied to dy with zero mean and shift.
        be.batchNormForwardInference(n, channels, hw, dy, gamma, zeros, dxn, zeros, runVar, eps);
        return ctx.stored(dxn, dxn.length());
    }

    @Override public String toString() { return "BatchNorm2d(" + channels + ")"; }
}
