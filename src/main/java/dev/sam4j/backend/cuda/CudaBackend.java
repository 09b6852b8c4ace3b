package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F_FAST_16BF;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.cublasGemmEx;
import static org.bytedeco.cuda.global.cublas.cublasSgemm_v2;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.cuMemAlloc;
import static org.bytedeco.cuda.global.cudart.cuMemFree;
import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoHAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemsetD32Async;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.Precision;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * {@link Backend} on one NVIDIA GPU: buffers in device memory, every operation queued on one non-blocking
 * stream, GEMM through cuBLAS, convolution, batch norm and pooling through cuDNN, the rest through the project's kernels ({@code src/main/cuda}).
 * Only transfers and the operations that return a number to the host ({@link #sumOfSquares}, {@link #dot},
 * {@link #asamNormSquared}) wait for the GPU; {@link #hostSyncs()} counts those waits.
 *
 * <p>GEMM: the interface is row-major, cuBLAS column-major. A row-major {@code m×n} matrix with leading
 * dimension {@code ld} is the column-major {@code n×m} matrix with the same {@code ld}, so
 * {@code C = op(A)·op(B)} is computed as the column-major {@code Cᵀ = op(B)ᵀ·op(A)ᵀ}: cuBLAS gets
 * {@code (opB, opA, n, m, k, B, ldb, A, lda, C, ldc)}. TF32 tensor-core math is off unless asked for
 * ({@code tf32}: {@code --precision tf32} or {@code bf16}, see {@link #supports}): it rounds inputs to 10-bit
 * mantissas, too coarse for fp32 parity tests.
 *
 * <p>Convolution, pooling and BatchNorm run on cuDNN ({@link CudaDnn}): descriptors and algorithms are
 * chosen once per shape, and convolutions take their scratch from the caller's workspace buffer, so a
 * step allocates nothing once every shape has run once.
 *
 * <p>Labels are validated by the loss kernel on the device; a bad one is reported as a
 * {@link CudaException} at the next synchronisation. One thread at a time, but any thread: every operation
 * resolves its buffers ({@code c}), opens ({@code checkOpen}) or stages ({@code staging}) first, and each of
 * those makes this backend's device current on the calling thread ({@link CudaContext#makeCurrent}).
 */
public final class CudaBackend implements Backend {
    // Byte offsets into the scratch block: reduction partials, then device-born scalars.
    static final long PARTIALS = 0;                        // double[1024]
    static final long S = 8192, DOT = 8200, Q = 8208, GV = 8216, MEAN_LOSS = 8224;   // doubles
    static final long NONFINITE = 8232, BAD_LABEL = 8236, FLAG = 8240;               // unsigned ints
    static final long SCALE = 8244, LR = 8248, COEF = 8252, VSCALE = 8256;           // floats
    static final long COUNTERS = 8264;                     // long long[4]: step, observed, SAM steps, skipped
    static final long STATS = 8296;                        // double[6]: μ, σ², s, σ, c, verdict
    // decide.cu's struct step_outcome: SAM_LOSS, SAM_SUMSQ, DECISION_MU (doubles), SKIP (unsigned int, padded),
    // then the statistic before the decision (μ, σ², observed), for second_pass_check to put back.
    static final long OUTCOME = 8344, SAM_LOSS = OUTCOME, SAM_SUMSQ = OUTCOME + 8, DECISION_MU = OUTCOME + 16,
            SKIP = OUTCOME + 24, OUTCOME_BYTES = 56;
    static final long GV_NEW = 8400;                       // double: LookSAM's new ||g_v||^2 before the noise floor
    static final long LOOKSAM_AGE = 8408;                  // long long: steps since LookSAM's g_v was stored (its expiry)
    static final long SCRATCH_BYTES = 16384;

    final CudaContext ctx;
    final CudaModule module;
    final CudaKernels k;
    final long scratch;
    private final boolean tf32, deterministic;
    /** Channels-last: images between layers in NHWC, cuDNN's descriptors NHWC, filters handed to cuDNN in KRSC. */
    private final boolean nhwc;
    /** bf16 runs: GEMMs through {@code cublasGemmEx} with bf16 tensor-core compute on the fp32 matrices. */
    private final boolean bf16Gemm;
    private final Map<CudaBuffer, Long> allocations = new IdentityHashMap<>();
    private final FloatPointer alpha = new FloatPointer(1), beta = new FloatPointer(1);
    private final CudaContext.DevicePointer gemmA = new CudaContext.DevicePointer(0), gemmB = new CudaContext.DevicePointer(0),
            gemmC = new CudaContext.DevicePointer(0);
    private Pointer staging = new Pointer();  // pinned host memory for transfers
    private long stagingBytes;
    private boolean labelCheckPending;
    private CudaDnn dnn;
    private final java.util.List<CudaInputTransfer> transfers = new java.util.ArrayList<>();
    private boolean closed;

    /** Opens device {@code device}; TF32 GEMM only if {@code tf32}. Throws {@link CudaException} with the reason if CUDA is unusable. */
    public CudaBackend(int device, boolean tf32) { this(device, tf32, false); }

    /**
     * As {@link #CudaBackend(int, boolean)}; with {@code deterministic}, cuDNN convolutions use only
     * algorithms cuDNN reports deterministic ({@link CudaDnn}).
     */
    public CudaBackend(int device, boolean tf32, boolean deterministic) { this(device, tf32, false, deterministic); }

    /**
     * Opens device {@code device} for layers computing in {@code precision} ({@link #supports}): fp32; TF32
     * (tensor-core TF32 GEMMs and convolutions); or bf16, stored natively ({@link #storesBf16Natively}): the layers'
     * activations, activation gradients and the weights' shadow in 16-bit buffers, GEMMs through {@code cublasGemmEx}
     * on {@code CUDA_R_16BF} matrices (fp32 accumulation), convolutions, pooling and batch norm through cuDNN in
     * {@code CUDNN_DATA_BFLOAT16}.
     */
    public CudaBackend(int device, Precision precision, boolean deterministic) {
        this(device, precision, deterministic, ImageLayout.NCHW);
    }

    /**
     * As {@link #CudaBackend(int, Precision, boolean)}, with images between layers in {@code layout}
     * ({@link #imageLayout}): in NHWC, cuDNN gets NHWC tensor and filter descriptors, and each convolution with
     * more than one input channel and a kernel larger than 1 × 1 first permutes its [outC, inC, k, k] weights to
     * KRSC in the head of its workspace (and its weight gradient back), one pass over the weights each: the
     * parameter arena keeps PyTorch's order, so checkpoints, the optimizers and the CPU see the same tensors in
     * either layout.
     */
    public CudaBackend(int device, Precision precision, boolean deterministic, ImageLayout layout) {
        this(device, precision != Precision.FP32, precision == Precision.BF16, deterministic, layout == ImageLayout.NHWC);
    }

    private CudaBackend(int device, boolean tf32, boolean bf16Gemm, boolean deterministic) {
        this(device, tf32, bf16Gemm, deterministic, false);
    }

    private CudaBackend(int device, boolean tf32, boolean bf16Gemm, boolean deterministic, boolean nhwc) {
        CudaRuntime.Availability a = CudaRuntime.probe();
        if (!a.available()) throw new CudaException("CUDA is not available: " + a.reason());
        if (device < 0 || device >= a.deviceCount()) {
            throw new CudaException("cuda:" + device + " does not exist: " + a.deviceCount() + " CUDA device(s)");
        }
        this.tf32 = tf32;
        this.bf16Gemm = bf16Gemm;
        this.deterministic = deterministic;
        this.nhwc = nhwc;
        CudaContext c = new CudaContext(device, tf32);
        CudaModule m = null;
        try {
            m = new CudaModule("cuda:" + device + " (" + c.name + ")", c.major, c.minor);
            this.k = new CudaKernels(m, c.stream, c.multiprocessors);
            long[] p = {0};
            CudaCheck.cu(cuMemAlloc(p, SCRATCH_BYTES), "cuMemAlloc(scratch)");
            this.scratch = p[0];
            CudaCheck.cu(cuMemsetD32Async(scratch, 0, SCRATCH_BYTES / 4, c.stream), "cuMemsetD32Async(scratch)");
        } catch (RuntimeException e) {
            if (m != null) m.close();
            c.close();
            throw e;
        }
        this.ctx = c;
        this.module = m;
    }

    @Override public String name() { return "cuda"; }

    @Override public boolean supportsDeviceCollectives() { return true; }

    /** NCCL's communicator on this device and stream ({@link Nccl}). */
    @Override public Nccl.Comm joinDeviceCollective(byte[] id, int worldSize, int rank) { return Nccl.join(this, id, worldSize, rank); }

    @Override
    public String describe() {
        return String.format(Locale.ROOT, "CUDA cuda:%d %s (sm_%d%d, %d SMs, %.1f GiB), cuBLAS %s, GEMM %s%s, GPU kernels in the jar: %s%s",
                ctx.device, ctx.name,
                ctx.major, ctx.minor, ctx.multiprocessors, ctx.totalMemory / (1024.0 * 1024 * 1024),
                CudaRuntime.libVersion(ctx.cublasVersion), bf16Gemm ? "bf16 storage (activations, their gradients and the weights' shadow in 16 bits; cublasGemmEx and cuDNN on bf16, fp32 accumulation)"
                        : tf32 ? "TF32 tensor cores" : "fp32 (TF32 off)",
                (deterministic ? ", deterministic cuDNN algorithms only" : "") + (nhwc ? ", images NHWC (channels-last)" : ""),
                CudaRuntime.kernelTargets(),
                CudaRuntime.probe().standIn() ? " [CPU stand-in libraries, not a GPU]" : "");
    }

    /**
     * fp32, or TF32 when opened with {@code tf32} (cuBLAS {@code CUBLAS_TF32_TENSOR_OP_MATH}, cuDNN
     * {@code CUDNN_DEFAULT_MATH}); and then also bf16 as the CPU emulates it, on fp32 storage: the layers round
     * what they store to bf16 ({@link #roundTo}), so every GEMM and convolution input is a bf16 value, which
     * TF32 holds exactly (10 mantissa bits ≥ bf16's 7, the same exponent range). Opened for bf16
     * ({@link #CudaBackend(int, Precision, boolean)}), only bf16, stored natively: the layers' buffers are 16-bit
     * ({@link #allocateBf16}), and each operation on them computes in fp32 and rounds once where it stores, as the
     * emulation does. A GEMM on fp32 matrices there (not what the layers do) goes through {@code cublasGemmEx}
     * with {@code CUBLAS_COMPUTE_32F_FAST_16BF}, which rounds its inputs to bf16 or TF32 as cuBLAS picks.
     */
    @Override public boolean supports(Precision p) {
        return bf16Gemm ? p == Precision.BF16 : tf32 ? p != Precision.FP32 : p == Precision.FP32;
    }

    @Override public String unsupportedReason(Precision p) {
        return "this cuda backend was opened for " + (bf16Gemm ? "bf16" : tf32 ? "tensor-core (tf32, bf16)" : "fp32")
                + " GEMMs and convolutions";
    }

    @Override
    public void roundTo(Precision p, Buffer x, Buffer y, long n) {
        CudaBuffer s = c(x), d = c(y);
        need(s, n, "roundTo x");
        need(d, n, "roundTo y");
        if (n == 0) return;
        if (s.bf16() || d.bf16()) {  // bf16 storage: converts (a bf16 already holds bf16 values; widening is exact)
            if (p != Precision.BF16 && d.bf16()) throw new IllegalArgumentException("roundTo(" + p + ") into a bf16 buffer");
            if (s.bf16() && d.bf16()) { if (s.address != d.address) k.copyBf16(s.address, d.address, n); }
            else if (d.bf16()) k.f32ToBf16(s.address, d.address, n);
            else k.bf16ToF32(s.address, d.address, n);
            return;
        }
        int drop = 23 - p.mantissaBits();
        if (drop > 0) k.roundMantissa(s.address, d.address, n, drop);
        else if (s.address != d.address) k.copy(s.address, d.address, n);
    }

    /** Times this backend has waited for the GPU (transfers, reductions returned to the host). */
    public long hostSyncs() { return ctx.hostSyncs(); }

    // ------------------------------------------------------------------------------------- memory

    @Override
    public CudaBuffer allocate(long n) {
        checkOpen();
        if (n < 0) throw new IllegalArgumentException("negative allocation " + n);
        long bytes = 4 * Math.max(1, n);
        long[] p = {0};
        CudaCheck.cu(cuMemAlloc(p, bytes), String.format(Locale.ROOT, "cuMemAlloc(%,d bytes)", bytes));
        CudaBuffer b = new CudaBuffer(this, p[0], n, true);
        allocations.put(b, bytes);
        CudaCheck.cu(cuMemsetD32Async(p[0], 0, Math.max(1, n), ctx.stream), "cuMemsetD32Async(zero)");
        return b;
    }

    /**
     * A zero-filled buffer of {@code n} bf16 values (16 bits each) for a native bf16 run's activations, activation
     * gradients and weight shadow ({@link #storesBf16Natively}).
     */
    @Override
    public CudaBuffer allocateBf16(long n) {
        checkOpen();
        if (n < 0) throw new IllegalArgumentException("negative allocation " + n);
        long words = (Math.max(1, n) + 1) / 2;  // zeroed as 32-bit words
        long bytes = 4 * words;
        long[] p = {0};
        CudaCheck.cu(cuMemAlloc(p, bytes), String.format(Locale.ROOT, "cuMemAlloc(%,d bytes, bf16)", bytes));
        CudaBuffer b = new CudaBuffer(this, p[0], n, true, 2);
        allocations.put(b, bytes);
        CudaCheck.cu(cuMemsetD32Async(p[0], 0, words, ctx.stream), "cuMemsetD32Async(zero)");
        return b;
    }

    /** Opened for bf16: the layers store bf16 in 16-bit buffers ({@link #allocateBf16}). */
    @Override public boolean storesBf16Natively() { return bf16Gemm; }

    void free(CudaBuffer b) {
        if (closed || allocations.remove(b) == null) return;
        ctx.makeCurrent();
        // Queued kernels may still use it: cuMemFree waits for the device's pending work (and we hold no graph on it).
        CudaCheck.cu(cuMemFree(b.address), "cuMemFree");
    }

    /**
     * Bytes of device memory in use on this backend's device, as the driver reports it ({@code cudaMemGetInfo});
     * what a check for leaks should compare, since it sees allocations that {@link #allocatedBytes()} cannot.
     */
    public long deviceMemoryInUse() {
        checkOpen();
        return ctx.deviceMemoryInUse();
    }

    /** Bytes of device memory held by this backend's live buffers (a tally of our own allocations). */
    public long allocatedBytes() {
        long s = 0;
        for (long v : allocations.values()) s += v;
        return s;
    }

    /** Pinned host slots and a copy stream, so batches reach the device while the previous step runs. */
    @Override
    public dev.sam4j.backend.InputPipeline.Transfer inputTransfer() {
        checkOpen();
        CudaInputTransfer t = new CudaInputTransfer(this);
        transfers.add(t);
        return t;
    }

    void forget(CudaInputTransfer t) { transfers.remove(t); }

    CudaBuffer cuda(Buffer b) { return c(b); }

    private CudaBuffer c(Buffer b) {
        ctx.makeCurrent();
        if (b instanceof CudaBuffer cb && cb.owner == this) return cb;
        throw new IllegalArgumentException("buffer of another backend: " + (b == null ? "null" : b.getClass().getSimpleName()));
    }

    private static void need(Buffer b, long n, String what) {
        if (b.length() < n) throw new IllegalArgumentException(what + " has " + b.length() + " elements, needs " + n);
    }

    private Pointer staging(long bytes) {
        ctx.makeCurrent();
        if (bytes > stagingBytes) {
            if (stagingBytes > 0) cudaFreeHost(staging);
            long size = Math.max(bytes, 1 << 16);
            Pointer p = new Pointer();
            CudaCheck.rt(cudaMallocHost(p, size), "cudaMallocHost(" + size + ")");
            staging = p;
            stagingBytes = size;
        }
        return staging;
    }

    @Override
    public void upload(float[] src, int srcOffset, Buffer dst, int n) {
        CudaBuffer d = c(dst);
        need(d, n, "upload target");
        if (n == 0) return;
        if (d.bf16()) {  // rounded to bf16 on the host (to nearest even, as the kernels' to_bf16)
            org.bytedeco.javacpp.ShortPointer h = new org.bytedeco.javacpp.ShortPointer(staging(2L * n));
            for (int i = 0; i < n; i++) h.put(i, bf16Bits(src[srcOffset + i]));
            CudaCheck.cu(cuMemcpyHtoDAsync(d.address, h, 2L * n, ctx.stream), "cuMemcpyHtoDAsync(bf16)");
            sync("upload");
            return;
        }
        FloatPointer host = new FloatPointer(staging(4L * n));
        host.put(src, srcOffset, n);
        CudaCheck.cu(cuMemcpyHtoDAsync(d.address, host, 4L * n, ctx.stream), "cuMemcpyHtoDAsync");
        // The staging buffer is reused by the next transfer, so this one must be done.
        sync("upload");
    }

    @Override
    public void download(Buffer src, float[] dst, int dstOffset, int n) {
        CudaBuffer s = c(src);
        need(s, n, "download source");
        if (n == 0) return;
        if (s.bf16()) {  // widened on the host: exact
            org.bytedeco.javacpp.ShortPointer h = new org.bytedeco.javacpp.ShortPointer(staging(2L * n));
            CudaCheck.cu(cuMemcpyDtoHAsync(h, s.address, 2L * n, ctx.stream), "cuMemcpyDtoHAsync(bf16)");
            ctx.synchronize("download");
            for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.intBitsToFloat((h.get(i) & 0xFFFF) << 16);
            checkLabels();
            return;
        }
        FloatPointer host = new FloatPointer(staging(4L * n));
        CudaCheck.cu(cuMemcpyDtoHAsync(host, s.address, 4L * n, ctx.stream), "cuMemcpyDtoHAsync");
        ctx.synchronize("download");
        host.get(dst, dstOffset, n);
        checkLabels();
    }

    /** The bf16 bits of {@code v}: rounded to nearest even, a NaN the quiet NaN of its sign (common.cuh's to_bf16). */
    static short bf16Bits(float v) {
        int b = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((b >>> 16) | 0x7FC0);
        return (short) (Float.floatToRawIntBits(Precision.BF16.round(v)) >>> 16);
    }

    /** Reads one scalar of the scratch block (synchronises). */
    double readScratchDouble(long offset) {
        BytePointer host = new BytePointer(staging(8));
        CudaCheck.cu(cuMemcpyDtoHAsync(host, scratch + offset, 8, ctx.stream), "cuMemcpyDtoHAsync(scalar)");
        ctx.synchronize("read a device scalar");
        double v = host.getDouble(0);
        checkLabels();
        return v;
    }

    /** Reads {@code count} bytes of the scratch block from {@code offset} (synchronises). */
    byte[] readScratch(long offset, int count) {
        return readBytes(scratch + offset, count);
    }

    /** Reads {@code count} bytes at a device address inside one of this backend's buffers (synchronises). */
    byte[] readBytes(long address, int count) {
        BytePointer host = new BytePointer(staging(count));
        CudaCheck.cu(cuMemcpyDtoHAsync(host, address, count, ctx.stream), "cuMemcpyDtoHAsync(bytes)");
        ctx.synchronize("read device scalars");
        byte[] out = new byte[count];
        host.get(out);
        checkLabels();
        return out;
    }

    /** Copies raw bytes to a device address inside one of this backend's buffers (synchronises). */
    void uploadBytes(long address, byte[] bytes) {
        BytePointer host = new BytePointer(staging(bytes.length));
        host.put(bytes);
        CudaCheck.cu(cuMemcpyHtoDAsync(address, host, bytes.length, ctx.stream), "cuMemcpyHtoDAsync(bytes)");
        sync("upload bytes");
    }

    /** Writes bytes into the scratch block (synchronises: the staging buffer is reused). */
    void writeScratch(long offset, byte[] bytes) {
        BytePointer host = new BytePointer(staging(bytes.length));
        host.put(bytes);
        CudaCheck.cu(cuMemcpyHtoDAsync(scratch + offset, host, bytes.length, ctx.stream), "cuMemcpyHtoDAsync(scratch)");
        sync("write device scalars");
    }

    private void sync(String why) {
        ctx.synchronize(why);
        checkLabels();
    }

    /**
     * After a synchronisation (the staging buffer's contents already taken): if a loss ran since the
     * last check, reads the loss kernel's bad-label flag and throws if it is set.
     */
    private void checkLabels() {
        if (labelCheckPending) {
            labelCheckPending = false;
            BytePointer host = new BytePointer(staging(4));
            CudaCheck.cu(cuMemcpyDtoHAsync(host, scratch + BAD_LABEL, 4, ctx.stream), "cuMemcpyDtoHAsync(label check)");
            ctx.synchronize("label check");
            if (host.getInt(0) != 0) {
                CudaCheck.cu(cuMemsetD32Async(scratch + BAD_LABEL, 0, 1, ctx.stream), "cuMemsetD32Async");
                throw new CudaException("softmaxCrossEntropy: a label is not a class index in [0, classes) (found by the loss kernel)");
            }
        }
    }

    @Override
    public double[] read(Buffer src) {
        int n = Math.toIntExact(src.length());
        float[] f = new float[n];
        download(src, f, 0, n);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = f[i];
        return out;
    }

    @Override
    public void write(double[] src, Buffer dst) {
        float[] f = new float[src.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) src[i];
        upload(f, 0, dst, f.length);
    }

    @Override
    public void copy(Buffer src, Buffer dst, long n) {
        CudaBuffer s = c(src), d = c(dst);
        need(s, n, "copy source");
        need(d, n, "copy target");
        same(s, d, "copy");
        if (n > 0) {
            if (s.bf16()) k.copyBf16(s.address, d.address, n);
            else k.copy(s.address, d.address, n);
        }
    }

    @Override
    public void fill(Buffer x, float value, long n) {
        CudaBuffer b = c(x);
        need(b, n, "fill target");
        if (n > 0) {
            if (b.bf16()) k.fillBf16(b.address, value, n);
            else k.fill(b.address, value, n);
        }
    }

    /** The buffers of an operation that takes one element type: all float or all bf16. */
    private static void same(CudaBuffer a, CudaBuffer b, String op) {
        if (a.bf16() != b.bf16()) {
            throw new IllegalArgumentException(op + ": a " + (a.bf16() ? "bf16" : "float") + " and a " + (b.bf16() ? "bf16" : "float")
                    + " buffer (roundTo converts)");
        }
    }

    // -------------------------------------------------------------------------------- dense algebra

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int kk, float alphaValue, Buffer a, int lda, Buffer b,
                     int ldb, float betaValue, Buffer c, int ldc) {
        CudaBuffer A = c(a), B = c(b), C = c(c);
        if (m == 0 || n == 0) return;
        need(A, transA ? (long) (kk - 1) * lda + m : (long) (m - 1) * lda + kk, "gemm A");
        need(B, transB ? (long) (n - 1) * ldb + kk : (long) (kk - 1) * ldb + n, "gemm B");
        need(C, (long) (m - 1) * ldc + n, "gemm C");
        alpha.put(alphaValue);
        beta.put(betaValue);
        gemmA.set(A.address);
        gemmB.set(B.address);
        gemmC.set(C.address);
        // Row-major C = op(A)·op(B)  ⇔  column-major Cᵀ = op(B)ᵀ·op(A)ᵀ (see the class comment).
        if (A.bf16() || B.bf16() || C.bf16()) {
            // Native bf16: bf16 A and B on tensor cores with fp32 accumulation, C bf16 (a layer's output or input
            // gradient, rounded once) or fp32 (a weight gradient into the fp32 arena).
            if (!A.bf16() || !B.bf16()) throw new IllegalArgumentException("gemm: A and B must both be bf16 or both float");
            CudaCheck.blas(cublasGemmEx(ctx.blas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                    n, m, kk, alpha, gemmB, CUDA_R_16BF, ldb, gemmA, CUDA_R_16BF, lda, beta, gemmC, C.bf16() ? CUDA_R_16BF : CUDA_R_32F,
                    ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx(bf16)");
            return;
        }
        if (bf16Gemm) {
            CudaCheck.blas(cublasGemmEx(ctx.blas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                    n, m, kk, alpha, gemmB, CUDA_R_32F, ldb, gemmA, CUDA_R_32F, lda, beta, gemmC, CUDA_R_32F, ldc,
                    CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
            return;
        }
        CudaCheck.blas(cublasSgemm_v2(ctx.blas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                n, m, kk, alpha, gemmB, ldb, gemmA, lda, beta, gemmC, ldc), "cublasSgemm_v2");
    }

    @Override
    public void addRowBias(Buffer y, Buffer bias, int rows, int cols) {
        if (c(y).bf16()) throw new IllegalArgumentException("addRowBias: y must be float (a bf16 layer adds its bias before rounding)");
        need(y, (long) rows * cols, "addRowBias y");
        need(bias, cols, "addRowBias bias");
        if ((long) rows * cols > 0) k.addRowBias(c(y).address, c(bias).address, rows, cols);
    }

    @Override
    public void addRowBiasStored(Buffer acc, Buffer bias, Buffer y, int rows, int cols) {
        need(acc, (long) rows * cols, "addRowBiasStored acc");
        need(y, (long) rows * cols, "addRowBiasStored y");
        if (bias != null) need(bias, cols, "addRowBiasStored bias");
        if (c(acc).bf16() || !c(y).bf16() || (bias != null && !c(bias).bf16())) {
            throw new IllegalArgumentException("addRowBiasStored: acc float, bias and y bf16");
        }
        if ((long) rows * cols > 0) k.addRowBiasRound(c(acc).address, bias == null ? 0 : c(bias).address, c(y).address, rows, cols);
    }

    @Override
    public void sumRows(Buffer dy, Buffer dBias, int rows, int cols) {
        need(dy, (long) rows * cols, "sumRows dy");
        need(dBias, cols, "sumRows dBias");
        if (cols > 0) {
            if (c(dy).bf16()) k.sumRowsBf16(c(dy).address, c(dBias).address, rows, cols);
            else k.sumRows(c(dy).address, c(dBias).address, rows, cols);
        }
    }

    // ---------------------------------------------------------------------------------- elementwise

    @Override
    public void reluForward(Buffer x, Buffer y, long n) {
        need(x, n, "relu x");
        need(y, n, "relu y");
        same(c(x), c(y), "relu");
        if (n > 0) {
            if (c(x).bf16()) k.reluForwardBf16(c(x).address, c(y).address, n);
            else k.reluForward(c(x).address, c(y).address, n);
        }
    }

    @Override
    public void reluBackward(Buffer y, Buffer dy, Buffer dx, long n) {
        need(y, n, "relu y");
        need(dy, n, "relu dy");
        need(dx, n, "relu dx");
        same(c(y), c(dy), "relu backward");
        same(c(dy), c(dx), "relu backward");
        if (n > 0) {
            if (c(y).bf16()) k.reluBackwardBf16(c(y).address, c(dy).address, c(dx).address, n);
            else k.reluBackward(c(y).address, c(dy).address, c(dx).address, n);
        }
    }

    @Override
    public void add(Buffer a, Buffer b, Buffer out, long n) {
        need(a, n, "add a");
        need(b, n, "add b");
        need(out, n, "add out");
        same(c(a), c(b), "add");
        same(c(a), c(out), "add");
        if (n > 0) {
            if (c(a).bf16()) k.addBf16(c(a).address, c(b).address, c(out).address, n);
            else k.add(c(a).address, c(b).address, c(out).address, n);
        }
    }

    // ------------------------------------------------------------------------------------ cuDNN ops

    /** Made on first use, so that the MLP trains on hosts without cuDNN. */
    private CudaDnn dnn() {
        checkOpen();
        if (dnn == null) dnn = new CudaDnn(ctx, tf32, deterministic, nhwc);
        return dnn;
    }

    /**
     * The cuDNN convolution algorithms chosen so far, one shape per entry (the format of
     * {@code CudaDnn.algorithms}); empty when no convolution has been set up.
     */
    public String convolutionAlgorithms() { return dnn == null ? "" : dnn.algorithms(); }

    /** The math type cuDNN reported for each chosen convolution algorithm, keyed as {@link #convolutionAlgorithms}. */
    public String convolutionMathTypes() { return dnn == null ? "" : dnn.mathTypes(); }

    /**
     * From now on, takes the algorithms in {@code encoded} (as {@link #convolutionAlgorithms} writes them) for
     * their shapes wherever cuDNN offers them within the workspace. Call it before the model is bound, so that
     * the workspace and any captured graph are made for them. Throws {@link IllegalArgumentException} on an
     * entry that does not parse.
     */
    public void reuseConvolutionAlgorithms(String encoded) { dnn().reuse(encoded); }

    /** Shapes whose algorithms given to {@link #reuseConvolutionAlgorithms} cuDNN did not offer here, so were chosen afresh. */
    public java.util.Set<String> convolutionAlgorithmsNotReused() { return dnn == null ? java.util.Set.of() : dnn.notReused(); }

    /** cuDNN's convolution algorithms, through {@link Backend}'s capability. */
    @Override public AlgorithmChoices algorithmChoices() { return algorithmChoices; }

    private final AlgorithmChoices algorithmChoices = new AlgorithmChoices() {
        @Override public String chosen() { return convolutionAlgorithms(); }
        @Override public void reuse(String encoded) { reuseConvolutionAlgorithms(encoded); }
        @Override public java.util.Set<String> notReused() { return convolutionAlgorithmsNotReused(); }
        @Override public String mathTypes() { return convolutionMathTypes(); }
    };

    /** The step graph ({@link StepGraph}) captures and replays the whole step on this backend. */
    @Override public Optional<DeviceStepGraph.Builder> deviceStepGraphs() { return stepGraphs; }

    private final Optional<DeviceStepGraph.Builder> stepGraphs = Optional.of(spec -> StepGraph.build(this, spec));

    @Override public long deviceBytesAllocated() { return allocatedBytes(); }

    /**
     * Why cuDNN 9 cannot serve this backend, or null when it can: its libraries load, report version 9, and
     * open a handle on this device (which also checks that this cuDNN has kernels for it). The handle is
     * kept for the run.
     */
    public String cudnnUnusable() {
        String load = CudaRuntime.cudnnLoadProblem();
        if (load != null) return load;
        try {
            ctx.dnn();
            return null;
        } catch (RuntimeException | LinkageError e) {
            return "cuDNN " + CudaRuntime.cudnnVersion() + " does not open on cuda:" + ctx.device + ": " + CudaRuntime.rootMessage(e);
        }
    }

    private static long addr(Buffer b) { return b == null ? 0 : ((CudaBuffer) b).address; }

    private static long bytes(Buffer ws) { return ws == null ? 0 : 4 * ws.length(); }

    // ---- image layout ----

    @Override public ImageLayout imageLayout() { return nhwc ? ImageLayout.NHWC : ImageLayout.NCHW; }

    @Override public void toImageLayout(int n, int channels, int hw, Buffer src, Buffer dst) { permute(n, channels, hw, src, dst, true); }

    @Override public void fromImageLayout(int n, int channels, int hw, Buffer src, Buffer dst) { permute(n, channels, hw, src, dst, false); }

    private void permute(int n, int channels, int hw, Buffer src, Buffer dst, boolean toNhwc) {
        if (n < 0 || channels < 1 || hw < 1) throw new IllegalArgumentException("image permutation of " + n + " × " + channels + " × " + hw);
        long count = (long) n * channels * hw;
        CudaBuffer s = c(src), d = c(dst);
        need(s, count, "image layout src");
        need(d, count, "image layout dst");
        same(s, d, "image layout");
        long e = s.elementBytes;
        if (count > 0 && s.address < d.address + e * count && d.address < s.address + e * count) {
            throw new IllegalArgumentException("image layout: dst overlaps src");
        }
        if (count == 0) return;
        // In NCHW, or with one channel or one position per image, both orders are the same memory.
        boolean same = !nhwc || channels == 1 || hw == 1;
        if (s.bf16()) {
            if (same) k.copyBf16(s.address, d.address, count);
            else k.permuteChannelsBf16(s.address, d.address, n, channels, hw, toNhwc);
        } else {
            if (same) k.copy(s.address, d.address, count);
            else k.permuteChannels(s.address, d.address, n, channels, hw, toNhwc);
        }
    }

    /**
     * Floats at the head of a convolution's workspace for its filter and weight gradient in the form cuDNN takes
     * them. Float data: the filter in KRSC where channels-last needs it permuted (more than one input channel and
     * a kernel larger than 1 × 1: otherwise KCRS and KRSC are the same memory), else none. bf16 data (native bf16
     * runs): cuDNN writes the weight gradient in the data's type, so one bf16 copy of the filter's size always
     * (the bf16 weight gradient, then widened into the fp32 gradient arena; before that, in channels-last, the
     * permuted filter), and where permuted a second one (the gradient permuted back). Rounded up to 64 floats so
     * that cuDNN's workspace after it stays 256-byte aligned.
     */
    private long filterScratch(ConvGeom g, boolean bf16) {
        boolean permuted = nhwc && g.inC() > 1 && g.kH() * g.kW() > 1;
        if (!bf16) return permuted ? round64(g.weightSize()) : 0;
        long copy = round64((g.weightSize() + 1L) / 2);
        return permuted ? 2 * copy : copy;
    }

    private static long round64(long floats) { return (floats + 63) / 64 * 64; }

    /** The workspace {@code ws} less its filter scratch of {@code fs} floats: address and bytes for cuDNN. */
    private long[] dnnWorkspace(ConvGeom g, Buffer ws, long fs, int n) {
        if (fs > 0 && (ws == null || ws.length() < fs)) {
            throw new IllegalArgumentException("convolution " + g + (nhwc ? " in channels-last" : "") + " needs a workspace of at least "
                    + fs + " floats for its KRSC filter or bf16 weight gradient (convWorkspaceSize(g, " + n + ") = "
                    + convWorkspaceSize(g, n) + "), got " + (ws == null ? "none" : ws.length()));
        }
        long bytes = bytes(ws) - 4 * fs;
        return new long[] {bytes == 0 ? 0 : addr(ws) + 4 * fs, bytes};
    }

    /** On a native bf16 backend the layers' convolutions are bf16 ones: the workspace is sized for those. */
    @Override public long convWorkspaceSize(ConvGeom g, int n) {
        return n <= 0 ? 0 : dnn().workspaceFloats(g, n, bf16Gemm) + filterScratch(g, bf16Gemm);
    }

    /** Whether a convolution's data is bf16 (then all of x, w and y are: cuDNN takes one data type). */
    private boolean convType(String op, Buffer... data) { return dataType(op, data); }

    /** Whether a cuDNN operation's images are bf16; they must all be of one type. */
    private boolean dataType(String op, Buffer... data) {
        boolean bf = c(data[0]).bf16();
        for (Buffer b : data) {
            if (c(b).bf16() != bf) throw new IllegalArgumentException(op + ": its images (and filter) must all be bf16 or all float");
        }
        return bf;
    }

    /** Batch norm's per-channel tensors are float in every precision. */
    private void floatParams(String op, Buffer... ps) {
        for (Buffer b : ps) if (b != null && c(b).bf16()) throw new IllegalArgumentException(op + ": scale, shift and statistics must be float");
    }

    @Override public void convForward(ConvGeom g, int n, Buffer x, Buffer w, Buffer bias, Buffer y, Buffer ws) {
        need(c(x), (long) n * g.inSize(), "conv x");
        need(c(w), g.weightSize(), "conv w");
        need(c(y), (long) n * g.outSize(), "conv y");
        if (bias != null) need(c(bias), g.outC(), "conv bias");
        if (ws != null) c(ws);
        boolean bf = convType("convForward", x, w, y);
        if (n <= 0) return;
        long fs = filterScratch(g, bf);
        long[] dws = dnnWorkspace(g, ws, fs, n);
        long wAddr = filterForCudnn(g, w, ws, bf);
        // A bf16 convolution's bias is added by sam4j's kernel (in fp32, then rounded): cuDNN's AddTensor wants one type.
        dnn().convForward(g, n, bf, addr(x), wAddr, bf ? 0 : addr(bias), addr(y), dws[0], dws[1]);
        if (bf && bias != null) {
            if (!c(bias).bf16()) throw new IllegalArgumentException("convForward: a bf16 convolution's bias is bf16 (the weights' shadow)");
            k.channelBiasBf16(addr(y), addr(bias), n, g.outC(), (long) g.outH() * g.outW(), nhwc);
        }
    }

    /**
     * The filter as cuDNN takes it: {@code w} itself, or permuted to KRSC into the workspace's head (channels-last),
     * or, for a bf16 filter not 16-byte aligned (a shadow slice at a parameter offset that is not a multiple of 8
     * elements: none of the zoo's models has one), copied there: cuDNN's bf16 kernels may want aligned pointers.
     */
    private long filterForCudnn(ConvGeom g, Buffer w, Buffer ws, boolean bf) {
        if (!nhwc || g.inC() == 1 || g.kH() * g.kW() == 1) {
            if (!bf || addr(w) % 16 == 0) return addr(w);
            k.copyBf16(addr(w), addr(ws), g.weightSize());  // the head holds a bf16 filter in every bf16 case
            return addr(ws);
        }
        if (bf) k.permuteChannelsBf16(addr(w), addr(ws), g.outC(), g.inC(), (long) g.kH() * g.kW(), true);
        else k.permuteChannels(addr(w), addr(ws), g.outC(), g.inC(), (long) g.kH() * g.kW(), true);
        return addr(ws);
    }

    @Override public void convBackwardData(ConvGeom g, int n, Buffer dy, Buffer w, Buffer dx, Buffer ws) {
        need(c(dy), (long) n * g.outSize(), "conv dy");
        need(c(w), g.weightSize(), "conv w");
        need(c(dx), (long) n * g.inSize(), "conv dx");
        if (ws != null) c(ws);
        boolean bf = convType("convBackwardData", dy, w, dx);
        if (n <= 0) return;
        long[] dws = dnnWorkspace(g, ws, filterScratch(g, bf), n);
        // Permuted again rather than kept from the forward: the workspace is shared by every layer.
        long wAddr = filterForCudnn(g, w, ws, bf);
        dnn().convBackwardData(g, n, bf, addr(dy), wAddr, addr(dx), dws[0], dws[1]);
    }

    @Override public void convBackwardFilter(ConvGeom g, int n, Buffer x, Buffer dy, Buffer dw, Buffer dBias, Buffer ws) {
        need(c(x), (long) n * g.inSize(), "conv x");
        need(c(dy), (long) n * g.outSize(), "conv dy");
        need(c(dw), g.weightSize(), "conv dw");
        if (dBias != null) need(c(dBias), g.outC(), "conv dBias");
        if (ws != null) c(ws);
        boolean bf = convType("convBackwardFilter", x, dy);
        if (c(dw).bf16()) throw new IllegalArgumentException("convBackwardFilter: dw is the fp32 gradient arena, not a bf16 buffer");
        if (n <= 0) return;
        long fs = filterScratch(g, bf);
        long[] dws = dnnWorkspace(g, ws, fs, n);
        boolean permuted = nhwc && g.inC() > 1 && g.kH() * g.kW() > 1;
        long rs = (long) g.kH() * g.kW();
        if (!bf) {
            dnn().convBackwardFilter(g, n, false, addr(x), addr(dy), permuted ? addr(ws) : addr(dw), addr(dBias), dws[0], dws[1]);
            if (permuted) k.permuteChannels(addr(ws), addr(dw), g.outC(), g.inC(), rs, false);
            return;
        }
        // bf16: cuDNN writes the gradient in bf16 into the workspace's head; permuted back where channels-last, then
        // widened (exactly) into the fp32 gradient arena. The bias gradient is summed by sam4j's kernel, in fp32.
        long head = addr(ws), second = head + 4 * (fs / 2);
        dnn().convBackwardFilter(g, n, true, addr(x), addr(dy), head, 0, dws[0], dws[1]);
        long kcrs = head;
        if (permuted) {
            k.permuteChannelsBf16(head, second, g.outC(), g.inC(), rs, false);
            kcrs = second;
        }
        k.bf16ToF32(kcrs, addr(dw), g.weightSize());
        if (dBias != null) k.channelSumsBf16(addr(dy), addr(dBias), n, g.outC(), (long) g.outH() * g.outW(), nhwc);
    }

    @Override public void maxPoolForward(PoolGeom g, int n, Buffer x, Buffer y) {
        need(c(x), (long) n * g.inSize(), "pool x");
        need(c(y), (long) n * g.outSize(), "pool y");
        boolean bf = dataType("max pool", x, y);
        if (n > 0) dnn().maxPoolForward(g, n, bf, addr(x), addr(y));
    }

    @Override public void maxPoolBackward(PoolGeom g, int n, Buffer x, Buffer y, Buffer dy, Buffer dx) {
        need(c(x), (long) n * g.inSize(), "pool x");
        need(c(y), (long) n * g.outSize(), "pool y");
        need(c(dy), (long) n * g.outSize(), "pool dy");
        need(c(dx), (long) n * g.inSize(), "pool dx");
        boolean bf = dataType("max pool backward", x, y, dy, dx);
        if (n > 0) dnn().maxPoolBackward(g, n, bf, addr(x), addr(y), addr(dy), addr(dx));
    }

    @Override public void globalAvgPoolForward(int n, int channels, int hw, Buffer x, Buffer y) {
        need(c(x), (long) n * channels * hw, "avg pool x");
        need(c(y), (long) n * channels, "avg pool y");
        boolean bf = dataType("avg pool", x, y);
        if (n > 0) dnn().globalAvgPoolForward(n, channels, hw, bf, addr(x), addr(y));
    }

    @Override public void globalAvgPoolBackward(int n, int channels, int hw, Buffer dy, Buffer dx) {
        need(c(dy), (long) n * channels, "avg pool dy");
        need(c(dx), (long) n * channels * hw, "avg pool dx");
        boolean bf = dataType("avg pool backward", dy, dx);
        if (n > 0) dnn().globalAvgPoolBackward(n, channels, hw, bf, addr(dy), addr(dx));
    }

    @Override public void batchNormForwardTraining(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                   Buffer runningMean, Buffer runningVar, double momentum, double eps,
                                                   boolean updateRunning, Buffer saveMean, Buffer saveInvStd) {
        long size = (long) n * channels * hw;
        need(c(x), size, "bn x");
        need(c(y), size, "bn y");
        for (Buffer b : new Buffer[] {gamma, beta, runningMean, runningVar, saveMean, saveInvStd}) need(c(b), channels, "bn per-channel");
        boolean bf = dataType("bn", x, y);
        floatParams("bn", gamma, beta, runningMean, runningVar, saveMean, saveInvStd);
        if (n > 0) {
            dnn().batchNormForwardTraining(n, channels, hw, bf, addr(x), addr(gamma), addr(beta), addr(y), addr(runningMean),
                    addr(runningVar), momentum, eps, updateRunning, addr(saveMean), addr(saveInvStd));
        }
    }

    @Override public void batchNormForwardInference(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                    Buffer runningMean, Buffer runningVar, double eps) {
        long size = (long) n * channels * hw;
        need(c(x), size, "bn x");
        need(c(y), size, "bn y");
        for (Buffer b : new Buffer[] {gamma, beta, runningMean, runningVar}) need(c(b), channels, "bn per-channel");
        boolean bf = dataType("bn", x, y);
        floatParams("bn", gamma, beta, runningMean, runningVar);
        if (n > 0) {
            dnn().batchNormForwardInference(n, channels, hw, bf, addr(x), addr(gamma), addr(beta), addr(y), addr(runningMean),
                    addr(runningVar), eps);
        }
    }

    @Override public void batchNormBackward(int n, int channels, int hw, Buffer x, Buffer dy, Buffer gamma, Buffer saveMean,
                                            Buffer saveInvStd, Buffer dx, Buffer dGamma, Buffer dBeta) {
        long size = (long) n * channels * hw;
        need(c(x), size, "bn x");
        need(c(dy), size, "bn dy");
        need(c(dx), size, "bn dx");
        for (Buffer b : new Buffer[] {gamma, saveMean, saveInvStd, dGamma, dBeta}) need(c(b), channels, "bn per-channel");
        boolean bf = dataType("bn backward", x, dy, dx);
        floatParams("bn backward", gamma, saveMean, saveInvStd, dGamma, dBeta);
        if (n > 0) {
            dnn().batchNormBackward(n, channels, hw, bf, addr(x), addr(dy), addr(gamma), addr(saveMean), addr(saveInvStd), addr(dx),
                    addr(dGamma), addr(dBeta));
        }
    }

    // ------------------------------------------------------------------------------------------ loss

    @Override
    public void softmaxCrossEntropy(int n, int classes, Buffer logits, Buffer labels, Buffer dLogits, Buffer lossPerExample) {
        need(logits, (long) n * classes, "logits");
        need(labels, n, "labels");
        need(lossPerExample, n, "lossPerExample");
        if (dLogits != null) need(dLogits, (long) n * classes, "dLogits");
        if (n == 0) return;
        if (dLogits != null && c(dLogits).bf16()) throw new IllegalArgumentException("softmaxCrossEntropy: dLogits must be float");
        if (c(logits).bf16()) {
            k.softmaxCrossEntropyBf16(c(logits).address, c(labels).address, dLogits == null ? 0 : c(dLogits).address,
                    c(lossPerExample).address, n, classes, scratch + BAD_LABEL);
        } else {
            k.softmaxCrossEntropy(c(logits).address, c(labels).address, dLogits == null ? 0 : c(dLogits).address,
                    c(lossPerExample).address, n, classes, scratch + BAD_LABEL);
        }
        labelCheckPending = true;
    }

    // ------------------------------------------------------------------------- whole-arena operations

    @Override
    public double sumOfSquares(Buffer x, long n) {
        need(x, n, "sumOfSquares input");
        if (n == 0) return 0;
        k.sumOfSquares(c(x).address, n, scratch + PARTIALS, scratch + S, scratch + NONFINITE);
        return readScratchDouble(S);
    }

    @Override
    public void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float momentum, float weightDecay, boolean nesterov) {
        sgdUpdate(w, g, m, n, lr, momentum, weightDecay, nesterov, null);
    }

    // The weight-writing passes with the bf16 shadow written by the same kernel (sam.cu, sgd.cu), not by a
    // rounding pass after it as the interface's defaults do.
    @Override
    public void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float momentum, float weightDecay, boolean nesterov,
                          Buffer shadow) {
        needAll(n, w, g, m);
        if (n > 0) {
            k.sgdStep(c(w).address, 0, 0, c(g).address, 0, 0f, 0, c(m).address, n, lr, 0, momentum, weightDecay, nesterov, 0,
                    shadowAddress(shadow, n));
        }
    }

    /** The device address of a weight shadow of at least {@code n} floats, or 0 for none. */
    private long shadowAddress(Buffer shadow, long n) {
        if (shadow == null) return 0;
        need(shadow, n, "bf16 shadow");
        // The kernels write the shadow in 16 bits (common.cuh's store_weight).
        if (!c(shadow).bf16()) throw new IllegalArgumentException("the weights' shadow must be a bf16 buffer (allocateBf16)");
        return c(shadow).address;
    }

    @Override
    public double dot(Buffer a, Buffer b, long n) {
        needAll(n, a, b);
        if (n == 0) return 0;
        k.dot(c(a).address, c(b).address, n, scratch + PARTIALS, scratch + DOT);
        return readScratchDouble(DOT);
    }

    @Override
    public void axpby(double alphaValue, Buffer x, double betaValue, Buffer y, Buffer out, long n) {
        needAll(n, x, y, out);
        if (n > 0) k.axpby((float) alphaValue, 0, c(x).address, (float) betaValue, c(y).address, c(out).address, n, 0);
    }

    @Override
    public void samPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale) {
        samPerturb(w, g, wSaved, gSaved, n, scale, null);
    }

    @Override
    public void samPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, Buffer shadow) {
        needAll(n, w, g, wSaved, gSaved);
        if (n > 0) {
            k.samPerturb(c(w).address, c(g).address, c(wSaved).address, c(gSaved).address, n, (float) scale, 0,
                    shadowAddress(shadow, n));
        }
    }

    @Override
    public double asamNormSquared(Buffer w, Buffer g, long n, double eta) {
        needAll(n, w, g);
        if (n == 0) return 0;
        k.asamNormSquared(c(w).address, c(g).address, n, (float) eta, scratch + PARTIALS, scratch + Q);
        return readScratchDouble(Q);
    }

    @Override
    public void asamPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, double eta) {
        asamPerturb(w, g, wSaved, gSaved, n, scale, eta, null);
    }

    @Override
    public void asamPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, double eta, Buffer shadow) {
        needAll(n, w, g, wSaved, gSaved);
        if (n > 0) {
            k.asamPerturb(c(w).address, c(g).address, c(wSaved).address, c(gSaved).address, n, (float) scale, 0, (float) eta,
                    shadowAddress(shadow, n));
        }
    }

    @Override
    public void restoreSgdUpdate(Buffer w, Buffer wSaved, Buffer g, Buffer m, long n, float lr, float momentum,
                                 float weightDecay, boolean nesterov) {
        restoreSgdUpdate(w, wSaved, g, m, n, lr, momentum, weightDecay, nesterov, null);
    }

    @Override
    public void restoreSgdUpdate(Buffer w, Buffer wSaved, Buffer g, Buffer m, long n, float lr, float momentum,
                                 float weightDecay, boolean nesterov, Buffer shadow) {
        needAll(n, w, wSaved, g, m);
        if (n > 0) {
            k.sgdStep(c(w).address, c(wSaved).address, 0, c(g).address, 0, 0f, 0, c(m).address, n, lr, 0, momentum,
                    weightDecay, nesterov, 0, shadowAddress(shadow, n));
        }
    }

    @Override
    public void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr, float momentum,
                                       float weightDecay, boolean nesterov) {
        sgdUpdateWithDirection(w, g, v, vScale, m, n, lr, momentum, weightDecay, nesterov, null);
    }

    @Override
    public void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr, float momentum,
                                       float weightDecay, boolean nesterov, Buffer shadow) {
        needAll(n, w, g, v, m);
        if (n > 0) {
            k.sgdStep(c(w).address, 0, 0, c(g).address, c(v).address, (float) vScale, 0, c(m).address, n, lr, 0, momentum,
                    weightDecay, nesterov, 0, shadowAddress(shadow, n));
        }
    }

    private static void needAll(long n, Buffer... buffers) {
        for (Buffer b : buffers) need(b, n, "arena operand");
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("CUDA backend is closed");
        ctx.makeCurrent();
    }

    /** Frees every buffer still allocated, the pinned staging memory, the kernels, the stream and the handles. */
    @Override
    public void close() {
        if (closed) return;
        ctx.makeCurrent();
        try {
            ctx.synchronize("close");
        } catch (CudaException ignored) {
            // an earlier failure already spoiled the context; free what we can anyway
        }
        // Input transfers free their pinned slots and device staging while the backend is still open.
        for (CudaInputTransfer t : java.util.List.copyOf(transfers)) t.close();
        closed = true;
        for (CudaBuffer b : allocations.keySet()) cuMemFree(b.address);
        allocations.clear();
        cuMemFree(scratch);
        if (stagingBytes > 0) cudaFreeHost(staging);
        stagingBytes = 0;
        if (dnn != null) dnn.close();
        alpha.close();
        beta.close();
        module.close();
        ctx.close();
    }
}
