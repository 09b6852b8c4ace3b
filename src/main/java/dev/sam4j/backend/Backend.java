package dev.sam4j.backend;

/**
 * The coarse operations a model and an optimizer need, on memory the backend owns. Layers and
 * optimizers are written once against this interface; CPU (reference and Vector API) and CUDA
 * implementations must agree with the reference to floating-point tolerance.
 *
 * <p>Conventions: matrices are row-major; images are NCHW, or NHWC on a backend whose {@link #imageLayout} says
 * so (every image operation then reads and writes NHWC; their geometries stay given as channels, height,
 * width); all counts are elements, not bytes. Class
 * labels are stored as floats holding small integers (exact below 2^24) so that labels live in ordinary
 * buffers on every backend. Operations write their outputs (they never accumulate) unless documented.
 * No operation allocates; workspaces are passed in.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and run records, e.g. {@code cpu}, {@code cpu-reference}. */
    String name();

    /** One line describing the implementation (threads, vector width, precision, device). */
    String describe();

    /** A new zero-filled buffer of {@code n} elements. */
    Buffer allocate(long n);

    /**
     * Whether this backend stores bf16 natively: a bf16 run's activations, activation gradients and weight shadow
     * then live in 16-bit buffers ({@link #allocateBf16}), and the operations given them compute in fp32 and round
     * once where they store (the values the CPU's emulation in fp32 buffers gives, up to summation order). False
     * by default: a backend that emulates bf16 keeps float buffers and rounds them ({@link #roundTo}).
     */
    default boolean storesBf16Natively() { return false; }

    /**
     * A new zero-filled buffer of {@code n} bf16 values, where {@link #storesBf16Natively}. The operations take
     * such buffers where the layers store (images, activations, their gradients, GEMM and convolution inputs and
     * outputs, the weights' shadow); {@link #roundTo} converts between them and float buffers; the arenas, batch
     * norm's per-channel tensors, the loss and its {@code dLogits} stay float.
     */
    default Buffer allocateBf16(long n) { throw new UnsupportedOperationException(name() + " has no bf16 storage"); }

    /**
     * {@code y[r, c] = bf16(acc[r, c] + bias[c])}: a native bf16 layer's fp32 GEMM result {@code acc} with its bias
     * (bf16, the weights' shadow; may be null), rounded once into the bf16 buffer {@code y}. Where
     * {@link #storesBf16Natively} only.
     */
    default void addRowBiasStored(Buffer acc, Buffer bias, Buffer y, int rows, int cols) {
        throw new UnsupportedOperationException(name() + " has no bf16 storage");
    }

    // ---- transfers (host ↔ backend); these are the only ops that may synchronise ----

    void upload(float[] src, int srcOffset, Buffer dst, int n);

    void download(Buffer src, float[] dst, int dstOffset, int n);

    /** Reads a whole buffer in double precision (tests, checkpoints; not for the hot path). */
    double[] read(Buffer src);

    /** Writes a whole buffer from doubles (rounded to the backend's precision). */
    void write(double[] src, Buffer dst);

    void copy(Buffer src, Buffer dst, long n);

    void fill(Buffer x, float value, long n);

    // ---- dense algebra ----

    /**
     * {@code C[m×n] = alpha·op(A)·op(B) + beta·C}, row-major, where {@code op(A)} is {@code m×k}
     * ({@code A} stored {@code k×m} when {@code transA}) and {@code op(B)} is {@code k×n}.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Buffer a, int lda, Buffer b, int ldb,
              float beta, Buffer c, int ldc);

    /** {@code y[r, c] += bias[c]} for a {@code rows × cols} row-major matrix. */
    void addRowBias(Buffer y, Buffer bias, int rows, int cols);

    /** {@code dBias[c] = Σ_r dy[r, c]}. */
    void sumRows(Buffer dy, Buffer dBias, int rows, int cols);

    // ---- elementwise ----

    /** {@code y = max(x, 0)}; {@code x} and {@code y} may be the same buffer. */
    void reluForward(Buffer x, Buffer y, long n);

    /** {@code dx = dy · [y > 0]} where {@code y} is the ReLU output; {@code dx} may alias {@code dy}. */
    void reluBackward(Buffer y, Buffer dy, Buffer dx, long n);

    /** {@code out = a + b}; {@code out} may alias either input. */
    void add(Buffer a, Buffer b, Buffer out, long n);

    /**
     * {@code y = x} rounded to {@code p}'s format element by element, exactly as {@link Precision#round(double)}
     * (to nearest, ties to even; overflow to infinity, NaN kept, subnormals kept); {@code y} may alias {@code x}.
     * The values stay in this backend's buffer format: it is how a CPU backend emulates a narrower storage
     * format. Only backends that {@link #supports} a reduced precision implement it.
     */
    default void roundTo(Precision p, Buffer x, Buffer y, long n) {
        throw new UnsupportedOperationException(name() + " has no rounding to " + p);
    }

    // ---- image layout ----

    /** How this backend's image operations lay out images ({@link ImageLayout}): NCHW unless it was opened channels-last. */
    default ImageLayout imageLayout() { return ImageLayout.NCHW; }

    /**
     * {@code dst = src} permuted from NCHW ({@code [n, channels, hw]}) to {@link #imageLayout}; a copy where that is
     * NCHW. {@code dst} must not alias {@code src}. How a model's input (always NCHW) reaches its first layer.
     */
    default void toImageLayout(int n, int channels, int hw, Buffer src, Buffer dst) {
        if (imageLayout() != ImageLayout.NCHW) throw new UnsupportedOperationException(name() + " has no permutation to " + imageLayout());
        copy(src, dst, (long) n * channels * hw);
    }

    /** The inverse of {@link #toImageLayout}: {@code dst} (NCHW) from {@code src} in {@link #imageLayout}. */
    default void fromImageLayout(int n, int channels, int hw, Buffer src, Buffer dst) {
        if (imageLayout() != ImageLayout.NCHW) throw new UnsupportedOperationException(name() + " has no permutation from " + imageLayout());
        copy(src, dst, (long) n * channels * hw);
    }

    // ---- convolution (in imageLayout; weights always [outC, inC, k, k]), see ConvGeom ----

    /** Scratch floats the three convolution ops need for a batch of {@code n}. */
    long convWorkspaceSize(ConvGeom g, int n);

    /** {@code y = conv(x, w) + bias}; {@code bias} may be null. */
    void convForward(ConvGeom g, int n, Buffer x, Buffer w, Buffer bias, Buffer y, Buffer workspace);

    /** {@code dx = conv_transpose(dy, w)}. */
    void convBackwardData(ConvGeom g, int n, Buffer dy, Buffer w, Buffer dx, Buffer workspace);

    /** {@code dw = Σ_n dy ⋆ x}; {@code dBias = Σ dy} over N, H, W when not null. */
    void convBackwardFilter(ConvGeom g, int n, Buffer x, Buffer dy, Buffer dw, Buffer dBias, Buffer workspace);

    // ---- pooling ----

    void maxPoolForward(PoolGeom g, int n, Buffer x, Buffer y);

    /** Routes each output gradient to the first position (row-major in the window) holding the max. */
    void maxPoolBackward(PoolGeom g, int n, Buffer x, Buffer y, Buffer dy, Buffer dx);

    /** {@code y[n, c] = mean over h·w of x[n, c, :, :]}. */
    void globalAvgPoolForward(int n, int channels, int hw, Buffer x, Buffer y);

    void globalAvgPoolBackward(int n, int channels, int hw, Buffer dy, Buffer dx);

    // ---- batch normalisation (per channel over N, H, W) ----

    /**
     * Training-mode batch norm: normalises with the batch mean and biased variance, saves the mean and
     * {@code 1/sqrt(var + eps)} for backward, and — only when {@code updateRunning} — updates the running
     * statistics PyTorch-style with the unbiased variance: {@code run = (1 − momentum)·run + momentum·batch}.
     */
    void batchNormForwardTraining(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                  Buffer runningMean, Buffer runningVar, double momentum, double eps,
                                  boolean updateRunning, Buffer saveMean, Buffer saveInvStd);

    /** Inference-mode batch norm with the running statistics. */
    void batchNormForwardInference(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                   Buffer runningMean, Buffer runningVar, double eps);

    /** Backward of training-mode batch norm: writes {@code dx}, {@code dGamma}, {@code dBeta}. */
    void batchNormBackward(int n, int channels, int hw, Buffer x, Buffer dy, Buffer gamma, Buffer saveMean,
                           Buffer saveInvStd, Buffer dx, Buffer dGamma, Buffer dBeta);

    // ---- loss ----

    /**
     * Softmax cross-entropy, mean over the batch: writes each example's loss to {@code lossPerExample[n]}
     * and, when {@code dLogits} is not null, {@code dLogits = (softmax − onehot) / n}.
     * Labels are floats holding class indices in {@code [0, classes)}.
     */
    void softmaxCrossEntropy(int n, int classes, Buffer logits, Buffer labels, Buffer dLogits, Buffer lossPerExample);

    // ---- whole-arena operations (the SAM hot path) ----

    /** {@code Σ x²} in a fixed order (deterministic, independent of thread count), accumulated in double. */
    double sumOfSquares(Buffer x, long n);

    /**
     * SGD with momentum and weight decay, PyTorch convention: {@code d = g + wd·w; m = μ·m + d;
     * w −= lr·(nesterov ? d + μ·m : m)}.
     */
    void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float momentum, float weightDecay, boolean nesterov);

    // ---- fused SAM-family passes over the whole arena (one read/write sweep each) ----
    // Scalars that come out of reductions (scales, projection coefficients) are passed in double so a
    // double-precision backend keeps them exact; float backends round them once.

    /** {@code Σ a·b} in a fixed order (deterministic, independent of thread count), accumulated in double. */
    double dot(Buffer a, Buffer b, long n);

    /** {@code out = alpha·x + beta·y}; {@code out} may alias {@code x} or {@code y}. */
    void axpby(double alpha, Buffer x, double beta, Buffer y, Buffer out, long n);

    /**
     * SAM's perturbation in one pass: {@code wSaved = w; gSaved = g; w = w + scale·g}. With
     * {@code scale = ρ/(‖g‖ + ε)} this is {@code w' = w + ρ·g/‖g‖}.
     */
    void samPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale);

    /** ASAM's normaliser {@code ‖T_w·g‖² = Σ ((|w| + η)·g)²}, deterministic, accumulated in double. */
    double asamNormSquared(Buffer w, Buffer g, long n, double eta);

    /** ASAM's perturbation in one pass: {@code wSaved = w; gSaved = g; w = w + scale·(|w| + η)²·g}. */
    void asamPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, double eta);

    /**
     * Exact restore followed by the SGD update, in one pass: {@code w = wSaved}, then exactly
     * {@link #sgdUpdate} with gradient {@code g}. Bit-identical to {@code copy(wSaved, w)} + {@code sgdUpdate}.
     */
    void restoreSgdUpdate(Buffer w, Buffer wSaved, Buffer g, Buffer m, long n, float lr, float momentum,
                          float weightDecay, boolean nesterov);

    /**
     * SGD update with gradient {@code g + vScale·v} (LookSAM's reuse step), in one pass; otherwise exactly
     * {@link #sgdUpdate}.
     */
    void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr, float momentum,
                                float weightDecay, boolean nesterov);

    // ---- the same passes, also writing the layers' bf16 shadow of the weights ----
    // In a bf16 run the layers read a bf16 copy of the weights (nn.Model's shadow). Each operation that writes
    // the weights has a form that also writes shadow[i] = bf16(w[i]) for every element it leaves in w, so
    // the shadow never lags the weights and the model does not round the arena again before its forward.
    // A GPU backend writes both in the same pass (the "bf16 costs no extra pass"); these defaults,
    // which the CPU backends keep, do the fp32 pass and then one rounding pass (roundTo), with the same result
    // bit for bit. A null shadow is the plain operation.

    /** {@link #sgdUpdate}, and {@code shadow = bf16(w)} when {@code shadow} is not null. */
    default void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float momentum, float weightDecay, boolean nesterov,
                           Buffer shadow) {
        sgdUpdate(w, g, m, n, lr, momentum, weightDecay, nesterov);
        writeShadow(w, shadow, n);
    }

    /** {@link #samPerturb}, and {@code shadow = bf16(w)} (the perturbed weights) when {@code shadow} is not null. */
    default void samPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, Buffer shadow) {
        samPerturb(w, g, wSaved, gSaved, n, scale);
        writeShadow(w, shadow, n);
    }

    /** {@link #asamPerturb}, and {@code shadow = bf16(w)} when {@code shadow} is not null. */
    default void asamPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, double eta, Buffer shadow) {
        asamPerturb(w, g, wSaved, gSaved, n, scale, eta);
        writeShadow(w, shadow, n);
    }

    /** {@link #restoreSgdUpdate}, and {@code shadow = bf16(w)} when {@code shadow} is not null. */
    default void restoreSgdUpdate(Buffer w, Buffer wSaved, Buffer g, Buffer m, long n, float lr, float momentum,
                                  float weightDecay, boolean nesterov, Buffer shadow) {
        restoreSgdUpdate(w, wSaved, g, m, n, lr, momentum, weightDecay, nesterov);
        writeShadow(w, shadow, n);
    }

    /** {@link #sgdUpdateWithDirection}, and {@code shadow = bf16(w)} when {@code shadow} is not null. */
    default void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr, float momentum,
                                        float weightDecay, boolean nesterov, Buffer shadow) {
        sgdUpdateWithDirection(w, g, v, vScale, m, n, lr, momentum, weightDecay, nesterov);
        writeShadow(w, shadow, n);
    }

    /** {@link #copy} into the weights (an exact restore), and {@code shadow = bf16(dst)} when {@code shadow} is not null. */
    default void copyWeights(Buffer src, Buffer dst, long n, Buffer shadow) {
        copy(src, dst, n);
        writeShadow(dst, shadow, n);
    }

    private void writeShadow(Buffer w, Buffer shadow, long n) {
        if (shadow != null && n > 0) roundTo(Precision.BF16, w, shadow, n);
    }

    /**
     * How training batches reach this backend's buffers through an {@link InputPipeline}: by default
     * copied at once from host arrays; a GPU backend overrides this with pinned staging memory and
     * asynchronous copies that overlap the running step.
     */
    default InputPipeline.Transfer inputTransfer() { return InputPipeline.synchronous(this); }

    // Capabilities: what a backend can do beyond the ops above. Callers ask these instead of testing for a
    // backend's class, so that only the backend's own package knows its types.

    /**
     * The device-decided training step where it runs here: the whole step (both SAM passes, the policy's
     * decision, the update) recorded once as a device graph ({@link DeviceStepGraph}) and replayed, without the
     * host waiting for it. Empty by default: the step is host-driven.
     */
    default java.util.Optional<DeviceStepGraph.Builder> deviceStepGraphs() { return java.util.Optional.empty(); }

    /** Whether the device-decided training step runs here ({@link #deviceStepGraphs} is present). */
    default boolean runsDeviceDecidedSteps() { return deviceStepGraphs().isPresent(); }

    /**
     * Joins rank {@code rank} of {@code worldSize} to the device communicator of {@code id} (an {@code ncclUniqueId}
     * made by {@link Backends#deviceCollectiveId} on rank 0) on this backend's device; blocks until every rank has
     * joined. Only where {@link #supportsDeviceCollectives}.
     */
    default DeviceCollective joinDeviceCollective(byte[] id, int worldSize, int rank) {
        throw new UnsupportedOperationException(name() + " has no device collectives");
    }

    /** Whether its ranks exchange device buffers through {@link #joinDeviceCollective} (CUDA: NCCL). */
    default boolean supportsDeviceCollectives() { return false; }

    /**
     * Whether this backend, as opened, computes in precision {@code p} ({@link Precision}): every backend
     * computes in fp32 unless it was opened for TF32 GEMMs and convolutions (then in TF32 instead); bf16 needs
     * {@link #roundTo} (the CPU backends emulate it). A run asks before it builds its model.
     */
    default boolean supports(Precision p) { return p == Precision.FP32; }

    /** One line saying why {@link #supports} is false for {@code p}, for the error a run stops with. */
    default String unsupportedReason(Precision p) {
        return "the " + name() + " backend as opened computes in "
                + java.util.Arrays.stream(Precision.values()).filter(this::supports).map(Precision::label)
                        .collect(java.util.stream.Collectors.joining(", ")) + " only";
    }

    /** Bytes of device memory held by this backend's live buffers (its own tally); 0 where buffers are host memory. */
    default long deviceBytesAllocated() { return 0; }

    /**
     * The convolution algorithms this backend chose, to be recorded with a run and taken again when it resumes
     * ({@code --deterministic}), or null where it has no such choice (the CPU backends have one algorithm each).
     */
    default AlgorithmChoices algorithmChoices() { return null; }

    /** A backend's choice of convolution algorithms, as text that a later run of the same backend takes back. */
    interface AlgorithmChoices {
        /** The algorithms chosen so far, one shape per entry; empty when no convolution has been set up. */
        String chosen();

        /**
         * From now on, takes the algorithms in {@code encoded} (as {@link #chosen} writes them) for their shapes
         * where offered. Call it before a model is bound. Throws {@link IllegalArgumentException} on an entry that does not parse.
         */
        void reuse(String encoded);

        /** Shapes whose algorithms given to {@link #reuse} were not offered here, so were chosen afresh. */
        java.util.Set<String> notReused();

        /**
         * The math type reported for each chosen algorithm ({@code tensor-op}, {@code fma}, ...), keyed as {@link #chosen};
         * empty where the backend does not say. For diagnostics.
         */
        default String mathTypes() { return ""; }
    }

    @Override
    void close();
}
