package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_BATCHNORM_SPATIAL;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BFLOAT16;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DETERMINISTIC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_FMA_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_NOT_PROPAGATE_NAN;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
import static org.bytedeco.cuda.global.cudnn.CUDNN_POOLING_MAX_DETERMINISTIC;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NCHW;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NHWC;
import static org.bytedeco.cuda.global.cudnn.cudnnAddTensor;
import static org.bytedeco.cuda.global.cudnn.cudnnBatchNormalizationBackward;
import static org.bytedeco.cuda.global.cudnn.cudnnBatchNormalizationForwardInference;
import static org.bytedeco.cuda.global.cudnn.cudnnBatchNormalizationForwardTraining;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionBackwardBias;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionBackwardData;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionBackwardFilter;
import static org.bytedeco.cuda.global.cudnn.cudnnConvolutionForward;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreatePoolingDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyConvolutionDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyFilterDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyPoolingDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionBackwardDataAlgorithm;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionBackwardFilterAlgorithm;
import static org.bytedeco.cuda.global.cudnn.cudnnFindConvolutionForwardAlgorithm;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnGetConvolutionForwardAlgorithm_v7;
import static org.bytedeco.cuda.global.cudnn.cudnnPoolingBackward;
import static org.bytedeco.cuda.global.cudnn.cudnnPoolingForward;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolution2dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetConvolutionMathType;
import static org.bytedeco.cuda.global.cudnn.cudnnSetFilter4dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetPooling2dDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnSetTensor4dDescriptor;

import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.TreeSet;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnPoolingStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The cuDNN half of {@link CudaBackend}: convolution, batch norm and pooling on cuDNN 9's legacy API, float, in
 * NCHW or, opened {@code nhwc}, in NHWC (channels-last): then every tensor descriptor is {@code CUDNN_TENSOR_NHWC}
 * and every filter descriptor KRSC ({@code CUDNN_TENSOR_NHWC} too), since cuDNN's channels-last kernels want the
 * filter in the data's format; {@link CudaBackend} hands the filters over in that order. Each operation takes its
 * data type: float, or bf16 ({@code CUDNN_DATA_BFLOAT16} images and filters, fp32 compute: cuDNN's
 * PSEUDO_BFLOAT16 configuration; batch norm's scale, shift and statistics stay float), for native bf16 runs.
 *
 * <p>Why descriptors and algorithms are cached per shape (geometry and batch): a step then makes no cuDNN
 * set-up call and no allocation, which a CUDA graph capture needs. The algorithms come from cuDNN's
 * {@code Find} (it times the candidates), run once per shape outside any capture: by
 * {@link CudaBackend#convWorkspaceSize}, which layers call when they are bound (and the device-decided step
 * for its batch before it captures), or else by the first eager call. Each call then takes, on the host, the
 * fastest candidate whose workspace fits the caller's workspace buffer.
 *
 * <p>Determinism. Find ranks by time, so two runs may take different algorithms for one shape, and some
 * algorithms add with atomics, so that even one of them may not repeat its last bits (cuDNN names
 * backward-data algorithm 0 and backward-filter algorithms 0 and 3). With {@code deterministic} only
 * candidates that cuDNN reports {@code CUDNN_DETERMINISTIC} are kept, ranked by cuDNN's heuristics instead of
 * Find's timing (the same order every run); and {@link #algorithms} lists what was
 * chosen, which a checkpoint records and a resumed run hands back ({@link #reuse}), so that it takes the
 * same algorithms, not the ones its own timing would pick.
 *
 * <p>Batch norm uses {@code CUDNN_BATCHNORM_SPATIAL} (not the persistent variant, whose different summation
 * order would loosen the parity tests). cuDNN's running-variance update uses the unbiased variance and its
 * saved inverse variance is {@code 1/sqrt(var + eps)}, both as {@code Backend} specifies. The frozen mode
 * passes null running-statistics pointers, which cuDNN documents as "do not update": a factor of 0 would
 * still rewrite them (and turn them into NaN when a batch variance is not finite).
 *
 * <p>Global average pooling is average pooling with a {@code 1 × hw} window over a {@code [n, c, 1, hw]} view.
 */
final class CudaDnn implements AutoCloseable {
    /** No single algorithm may ask for more scratch than this; larger ones are skipped. */
    static final long MAX_WORKSPACE_BYTES = 512L << 20;
    private static final int CANDIDATES = 16;

    private final CudaContext ctx;
    private final boolean tf32, deterministic, nhwc;
    private final FloatPointer one = new FloatPointer(1), zero = new FloatPointer(1);
    private final CudaContext.DevicePointer[] p = new CudaContext.DevicePointer[8];
    private final Map<ConvKey, Conv> convs = new HashMap<>();
    private final Map<PoolKey, Pool> pools = new HashMap<>();
    private final Map<BnKey, Bn> bns = new HashMap<>();
    private final Map<ConvKey, int[]> reuse = new HashMap<>();
    private final Set<String> notReused = new TreeSet<>();
    private final List<Runnable> destroy = new ArrayList<>();

    CudaDnn(CudaContext ctx, boolean tf32, boolean deterministic, boolean nhwc) {
        this.ctx = ctx;
        this.tf32 = tf32;
        this.deterministic = deterministic;
        this.nhwc = nhwc;
        one.put(1f);
        zero.put(0f);
        for (int i = 0; i < p.length; i++) p[i] = new CudaContext.DevicePointer(0);
    }

    /** A reusable view of device address {@code address} (slot {@code i} per call; null for address 0). */
    private Pointer ptr(int i, long address) {
        if (address == 0) return null;
        p[i].set(address);
        return p[i];
    }

    private int format() { return nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }

    private cudnnTensorStruct tensor(int n, int c, int h, int w) { return tensor(n, c, h, w, false); }

    private cudnnTensorStruct tensor(int n, int c, int h, int w, boolean bf16) {
        cudnnTensorStruct d = new cudnnTensorStruct();
        CudaCheck.dnn(cudnnCreateTensorDescriptor(d), "cudnnCreateTensorDescriptor");
        destroy.add(() -> cudnnDestroyTensorDescriptor(d));
        CudaCheck.dnn(cudnnSetTensor4dDescriptor(d, format(), bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, n, c, h, w),
                String.format(Locale.ROOT, "cudnnSetTensor4dDescriptor(%s, %s, %d, %d, %d, %d)", nhwc ? "NHWC" : "NCHW",
                        bf16 ? "bf16" : "float", n, c, h, w));
        return d;
    }

    // ---------------------------------------------------------------------------------- convolution

    private record ConvKey(ConvGeom g, int n, boolean bf16) {}

    /**
     * One shape's descriptors, the candidates cuDNN's Find returned (fastest first: algorithm and workspace
     * bytes, per direction) and the algorithms picked from them for the workspace of {@code capacity} bytes.
     * Why keep the candidates: a later call with a smaller workspace re-picks on the host, without running
     * Find again, which may be inside a graph capture where Find cannot run.
     */
    private static final class Conv {
        cudnnTensorStruct x, y, bias;
        cudnnFilterStruct w;
        cudnnConvolutionStruct conv;
        int[][] algos;
        long[][] mems;
        int[][] maths;  // the math type cuDNN reported for each candidate (perf.mathType)
        int fwd = -1, bwdData = -1, bwdFilter = -1;
        int[] chosenMath = {-1, -1, -1};
        long fwdBytes, bwdDataBytes, bwdFilterBytes, capacity = -1;

        long maxBytes() { return Math.max(fwdBytes, Math.max(bwdDataBytes, bwdFilterBytes)); }
    }

    private Conv conv(ConvGeom g, int n, boolean bf16, long capacity) {
        ConvKey key = new ConvKey(g, n, bf16);
        Conv c = convs.get(key);
        if (c == null) {
            c = new Conv();
            c.x = tensor(n, g.inC(), g.inH(), g.inW(), bf16);
            c.y = tensor(n, g.outC(), g.outH(), g.outW(), bf16);
            c.bias = tensor(1, g.outC(), 1, 1);
            cudnnFilterStruct w = new cudnnFilterStruct();
            CudaCheck.dnn(cudnnCreateFilterDescriptor(w), "cudnnCreateFilterDescriptor");
            destroy.add(() -> cudnnDestroyFilterDescriptor(w));
            CudaCheck.dnn(cudnnSetFilter4dDescriptor(w, bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT, format(), g.outC(), g.inC(), g.kH(), g.kW()),
                    "cudnnSetFilter4dDescriptor");
            c.w = w;
            cudnnConvolutionStruct cd = new cudnnConvolutionStruct();
            CudaCheck.dnn(cudnnCreateConvolutionDescriptor(cd), "cudnnCreateConvolutionDescriptor");
            destroy.add(() -> cudnnDestroyConvolutionDescriptor(cd));
            CudaCheck.dnn(cudnnSetConvolution2dDescriptor(cd, g.pad(), g.pad(), g.stride(), g.stride(), 1, 1,
                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
            // FMA math keeps fp32 exact enough for parity tests; DEFAULT lets cuDNN use TF32 tensor cores (and, on bf16
            // data, bf16 ones).
            CudaCheck.dnn(cudnnSetConvolutionMathType(cd, tf32 || bf16 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
            c.conv = cd;
            find(c);
            convs.put(key, c);
        }
        if (c.capacity != capacity) pick(c, key, capacity);
        return c;
    }

    /**
     * Ranks the candidates of the three directions and keeps the usable ones: by cuDNN's Find (it times every
     * algorithm on the GPU), or, with {@code deterministic}, by cuDNN's heuristics ({@code _v7}: no timing). Why
     * not Find there: on an H200 two identical {@code --deterministic} runs in one process timed different
     * deterministic algorithms fastest and so ended with other last bits; the heuristics rank the same way for
     * the same cuDNN, GPU and shape every time.
     */
    private void find(Conv c) {
        int[] found = {0};
        c.algos = new int[3][];
        c.mems = new long[3][];
        c.maths = new int[3][];
        try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(CANDIDATES)) {
            if (deterministic) {
                CudaCheck.dnn(cudnnGetConvolutionForwardAlgorithm_v7(ctx.dnn(), c.x, c.w, c.conv, c.y, CANDIDATES, found, perf),
                        "cudnnGetConvolutionForwardAlgorithm_v7");
            } else {
                CudaCheck.dnn(cudnnFindConvolutionForwardAlgorithm(ctx.dnn(), c.x, c.w, c.conv, c.y, CANDIDATES, found, perf),
                        "cudnnFindConvolutionForwardAlgorithm");
            }
            int k = 0;
            int[] a = new int[found[0]], math = new int[found[0]];
            long[] m = new long[found[0]];
            for (int i = 0; i < found[0]; i++) {
                cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                if (usable(r.status(), r.determinism())) { a[k] = r.algo(); math[k] = r.mathType(); m[k++] = r.memory(); }
            }
            c.algos[0] = java.util.Arrays.copyOf(a, k);
            c.mems[0] = java.util.Arrays.copyOf(m, k);
            c.maths[0] = java.util.Arrays.copyOf(math, k);
        }
        try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(CANDIDATES)) {
            if (deterministic) {
                CudaCheck.dnn(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.dnn(), c.w, c.y, c.conv, c.x, CANDIDATES, found, perf),
                        "cudnnGetConvolutionBackwardDataAlgorithm_v7");
            } else {
                CudaCheck.dnn(cudnnFindConvolutionBackwardDataAlgorithm(ctx.dnn(), c.w, c.y, c.conv, c.x, CANDIDATES, found, perf),
                        "cudnnFindConvolutionBackwardDataAlgorithm");
            }
            int k = 0;
            int[] a = new int[found[0]], math = new int[found[0]];
            long[] m = new long[found[0]];
            for (int i = 0; i < found[0]; i++) {
                cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
                if (usable(r.status(), r.determinism())) { a[k] = r.algo(); math[k] = r.mathType(); m[k++] = r.memory(); }
            }
            c.algos[1] = java.util.Arrays.copyOf(a, k);
            c.mems[1] = java.util.Arrays.copyOf(m, k);
            c.maths[1] = java.util.Arrays.copyOf(math, k);
        }
        try (cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(CANDIDATES)) {
            if (deterministic) {
                CudaCheck.dnn(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.dnn(), c.x, c.y, c.conv, c.w, CANDIDATES, found, perf),
                        "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
            } else {
                CudaCheck.dnn(cudnnFindConvolutionBackwardFilterAlgorithm(ctx.dnn(), c.x, c.y, c.conv, c.w, CANDIDATES, found, perf),
                        "cudnnFindConvolutionBackwardFilterAlgorithm");
            }
            int k = 0;
            int[] a = new int[found[0]], math = new int[found[0]];
            long[] m = new long[found[0]];
            for (int i = 0; i < found[0]; i++) {
                cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
                if (usable(r.status(), r.determinism())) { a[k] = r.algo(); math[k] = r.mathType(); m[k++] = r.memory(); }
            }
            c.algos[2] = java.util.Arrays.copyOf(a, k);
            c.mems[2] = java.util.Arrays.copyOf(m, k);
            c.maths[2] = java.util.Arrays.copyOf(math, k);
        }
    }

    /** Whether a candidate Find returned may be used: it ran, and it is deterministic if that was asked for. */
    private boolean usable(int status, int determinism) {
        return status == CUDNN_STATUS_SUCCESS && (!deterministic || determinism == CUDNN_DETERMINISTIC);
    }

    /**
     * The fastest candidate of each direction whose workspace fits {@code capacity} bytes (host only), unless
     * the shape's algorithms were given ({@link #reuse}) and that one is among the candidates and fits; a
     * given one that is not is noted ({@link #notReused}) and the fastest taken instead.
     */
    private void pick(Conv c, ConvKey key, long capacity) {
        ConvGeom g = key.g();
        int n = key.n();
        int[] algo = new int[3];
        long[] bytes = new long[3];
        String[] dir = {"forward", "backward-data", "backward-filter"};
        int[] want = reuse.get(key);
        for (int d = 0; d < 3; d++) {
            int i = 0;
            if (want != null) {
                while (i < c.algos[d].length && (c.algos[d][i] != want[d] || c.mems[d][i] > capacity)) i++;
                if (i == c.algos[d].length) {
                    notReused.add(key(key));
                    i = 0;
                }
            }
            while (i < c.algos[d].length && c.mems[d][i] > capacity) i++;
            if (i == c.algos[d].length) {
                throw new CudaException("no " + (deterministic ? "deterministic " : "") + "cuDNN " + dir[d]
                        + " convolution algorithm for " + g + " at batch " + n + " within " + capacity + " workspace bytes");
            }
            algo[d] = c.algos[d][i];
            bytes[d] = c.mems[d][i];
            c.chosenMath[d] = c.maths[d][i];
        }
        c.fwd = algo[0];
        c.bwdData = algo[1];
        c.bwdFilter = algo[2];
        c.fwdBytes = bytes[0];
        c.bwdDataBytes = bytes[1];
        c.bwdFilterBytes = bytes[2];
        c.capacity = capacity;
    }

    /**
     * The algorithms chosen so far, one shape per entry in key order, e.g.
     * {@code 16/1,8,8/32,3,3/1/1=0,0,2;...}: batch / input channels, height, width / output channels, kernel
     * height, width / stride / padding = forward, backward-data, backward-filter algorithm; channels-last shapes end
     * in {@code /nhwc} and bf16 ones in {@code /bf16} (their algorithms are another layout's or type's: one run never
     * takes the other's). What a checkpoint
     * records, so that a resumed run can take the same ones ({@link #reuse}).
     */
    String algorithms() {
        TreeMap<String, String> out = new TreeMap<>();
        convs.forEach((k, c) -> { if (c.capacity >= 0) out.put(key(k), c.fwd + "," + c.bwdData + "," + c.bwdFilter); });
        StringJoiner j = new StringJoiner(";");
        out.forEach((k, v) -> j.add(k + "=" + v));
        return j.toString();
    }

    /**
     * The math type cuDNN reported for each chosen algorithm, in {@link #algorithms}'s order and keys, e.g.
     * {@code 16/1,8,8/32,3,3/1/1=tensor-op,default,fma}: whether the convolutions take tensor cores (TF32 on fp32
     * data) is cuDNN's choice per shape under {@code CUDNN_DEFAULT_MATH}. As cuDNN reported it for the candidate: the
     * calls run with the descriptor's math type ({@code CUDNN_FMA_MATH} in fp32), which bounds what they may use. For
     * diagnostics (tests, benchmarks); not recorded in checkpoints.
     */
    String mathTypes() {
        TreeMap<String, String> out = new TreeMap<>();
        convs.forEach((k, c) -> {
            if (c.capacity >= 0) out.put(key(k), mathName(c.chosenMath[0]) + "," + mathName(c.chosenMath[1]) + "," + mathName(c.chosenMath[2]));
        });
        StringJoiner j = new StringJoiner(";");
        out.forEach((k, v) -> j.add(k + "=" + v));
        return j.toString();
    }

    private static String mathName(int math) {
        return switch (math) {
            case 0 -> "default";
            case 1 -> "tensor-op";
            case 2 -> "tensor-op-allow-conversion";
            case 3 -> "fma";
            default -> "math-" + math;
        };
    }

    private String key(ConvKey k) {
        ConvGeom g = k.g();
        return k.n() + "/" + g.inC() + "," + g.inH() + "," + g.inW() + "/" + g.outC() + "," + g.kH() + "," + g.kW() + "/" + g.stride()
                + "/" + g.pad() + (nhwc ? "/nhwc" : "") + (k.bf16() ? "/bf16" : "");
    }

    /**
     * Takes the algorithms in {@code encoded} (as {@link #algorithms} writes them) for their shapes from now on,
     * wherever Find offers them within the workspace: a resumed run then computes what the interrupted one
     * would have. Shapes already chosen are chosen again at their next use. Throws
     * {@link IllegalArgumentException} naming the entry that does not parse.
     */
    void reuse(String encoded) {
        Map<ConvKey, int[]> parsed = new HashMap<>();
        List<String> otherLayout = new ArrayList<>();
        if (!encoded.isEmpty()) {
            for (String entry : encoded.split(";", -1)) {
                String[] kv = entry.split("=", -1), parts = kv[0].split("/", -1);
                java.util.List<String> flags = java.util.Arrays.asList(parts).subList(Math.min(5, parts.length), parts.length);
                boolean entryNhwc = flags.contains("nhwc"), entryBf16 = flags.contains("bf16");
                try {
                    boolean flagsOk = flags.size() == (entryNhwc ? 1 : 0) + (entryBf16 ? 1 : 0)
                            && (!entryNhwc || flags.get(0).equals("nhwc"));
                    if (kv.length != 2 || parts.length < 5 || !flagsOk) throw new IllegalArgumentException();
                    int[] in = ints(parts[1], 3), w = ints(parts[2], 3), algos = ints(kv[1], 3);
                    ConvGeom g = new ConvGeom(in[0], in[1], in[2], w[0], w[1], w[2], Integer.parseInt(parts[3]), Integer.parseInt(parts[4]));
                    int n = Integer.parseInt(parts[0]);
                    if (n < 1 || algos[0] < 0 || algos[1] < 0 || algos[2] < 0) throw new IllegalArgumentException();
                    if (entryNhwc == nhwc) parsed.put(new ConvKey(g, n, entryBf16), algos);
                    else otherLayout.add(kv[0]);  // another layout's algorithm: this run's shapes are chosen afresh
                } catch (IllegalArgumentException e) {  // NumberFormatException included
                    throw new IllegalArgumentException("'" + entry + "' is not batch/C,H,W/K,R,S/stride/pad[/nhwc][/bf16]=fwd,bwd-data,bwd-filter");
                }
            }
        }
        reuse.clear();
        reuse.putAll(parsed);
        notReused.addAll(otherLayout);
        for (Conv c : convs.values()) c.capacity = -1;
    }

    private static int[] ints(String csv, int count) {
        String[] p = csv.split(",", -1);
        if (p.length != count) throw new IllegalArgumentException();
        int[] out = new int[count];
        for (int i = 0; i < count; i++) out[i] = Integer.parseInt(p[i]);
        return out;
    }

    /** Shapes whose given algorithm ({@link #reuse}) Find did not offer within the workspace, so were chosen afresh. */
    Set<String> notReused() { return Collections.unmodifiableSet(notReused); }

    /** Workspace floats the chosen algorithms of this shape need (choosing them now, within {@link #MAX_WORKSPACE_BYTES}). */
    long workspaceFloats(ConvGeom g, int n, boolean bf16) {
        Conv c = conv(g, n, bf16, MAX_WORKSPACE_BYTES);
        return (c.maxBytes() + 3) / 4;
    }

    void convForward(ConvGeom g, int n, boolean bf16, long x, long w, long bias, long y, long ws, long wsBytes) {
        Conv c = conv(g, n, bf16, wsBytes);
        CudaCheck.dnn(cudnnConvolutionForward(ctx.dnn(), one, c.x, ptr(0, x), c.w, ptr(1, w), c.conv, c.fwd, ptr(2, ws),
                c.fwdBytes, zero, c.y, ptr(3, y)), "cudnnConvolutionForward");
        if (bias != 0) {
            CudaCheck.dnn(cudnnAddTensor(ctx.dnn(), one, c.bias, ptr(4, bias), one, c.y, ptr(3, y)), "cudnnAddTensor(bias)");
        }
    }

    void convBackwardData(ConvGeom g, int n, boolean bf16, long dy, long w, long dx, long ws, long wsBytes) {
        Conv c = conv(g, n, bf16, wsBytes);
        CudaCheck.dnn(cudnnConvolutionBackwardData(ctx.dnn(), one, c.w, ptr(0, w), c.y, ptr(1, dy), c.conv, c.bwdData,
                ptr(2, ws), c.bwdDataBytes, zero, c.x, ptr(3, dx)), "cudnnConvolutionBackwardData");
    }

    void convBackwardFilter(ConvGeom g, int n, boolean bf16, long x, long dy, long dw, long dBias, long ws, long wsBytes) {
        Conv c = conv(g, n, bf16, wsBytes);
        CudaCheck.dnn(cudnnConvolutionBackwardFilter(ctx.dnn(), one, c.x, ptr(0, x), c.y, ptr(1, dy), c.conv, c.bwdFilter,
                ptr(2, ws), c.bwdFilterBytes, zero, c.w, ptr(3, dw)), "cudnnConvolutionBackwardFilter");
        if (dBias != 0) {
            CudaCheck.dnn(cudnnConvolutionBackwardBias(ctx.dnn(), one, c.y, ptr(1, dy), zero, c.bias, ptr(4, dBias)),
                    "cudnnConvolutionBackwardBias");
        }
    }

    // -------------------------------------------------------------------------------------- pooling

    /** {@code g == null}: global average pooling of {@code [n, c, 1, hw]}. */
    private record PoolKey(PoolGeom g, int n, int c, int hw, boolean bf16) {}

    private record Pool(cudnnPoolingStruct desc, cudnnTensorStruct x, cudnnTensorStruct y) {}

    private Pool pool(PoolKey key) {
        Pool p = pools.get(key);
        if (p != null) return p;
        cudnnPoolingStruct d = new cudnnPoolingStruct();
        CudaCheck.dnn(cudnnCreatePoolingDescriptor(d), "cudnnCreatePoolingDescriptor");
        destroy.add(() -> cudnnDestroyPoolingDescriptor(d));
        PoolGeom g = key.g();
        if (g != null) {
            // Deterministic max: cuDNN pads with -inf, so, as in ours, padded cells never win.
            CudaCheck.dnn(cudnnSetPooling2dDescriptor(d, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN, g.k(), g.k(),
                    g.pad(), g.pad(), g.stride(), g.stride()), "cudnnSetPooling2dDescriptor(max)");
            p = new Pool(d, tensor(key.n(), g.channels(), g.h(), g.w(), key.bf16()), tensor(key.n(), g.channels(), g.outH(), g.outW(), key.bf16()));
        } else {
            CudaCheck.dnn(cudnnSetPooling2dDescriptor(d, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_NOT_PROPAGATE_NAN, 1,
                    key.hw(), 0, 0, 1, 1), "cudnnSetPooling2dDescriptor(global average)");
            p = new Pool(d, tensor(key.n(), key.c(), 1, key.hw(), key.bf16()), tensor(key.n(), key.c(), 1, 1, key.bf16()));
        }
        pools.put(key, p);
        return p;
    }

    void maxPoolForward(PoolGeom g, int n, boolean bf16, long x, long y) {
        Pool p = pool(new PoolKey(g, n, 0, 0, bf16));
        CudaCheck.dnn(cudnnPoolingForward(ctx.dnn(), p.desc(), one, p.x(), ptr(0, x), zero, p.y(), ptr(1, y)), "cudnnPoolingForward(max)");
    }

    void maxPoolBackward(PoolGeom g, int n, boolean bf16, long x, long y, long dy, long dx) {
        Pool p = pool(new PoolKey(g, n, 0, 0, bf16));
        CudaCheck.dnn(cudnnPoolingBackward(ctx.dnn(), p.desc(), one, p.y(), ptr(0, y), p.y(), ptr(1, dy), p.x(), ptr(2, x), zero,
                p.x(), ptr(3, dx)), "cudnnPoolingBackward(max)");
    }

    void globalAvgPoolForward(int n, int c, int hw, boolean bf16, long x, long y) {
        Pool p = pool(new PoolKey(null, n, c, hw, bf16));
        CudaCheck.dnn(cudnnPoolingForward(ctx.dnn(), p.desc(), one, p.x(), ptr(0, x), zero, p.y(), ptr(1, y)),
                "cudnnPoolingForward(global average)");
    }

    /** Average pooling's backward reads neither x nor y; cuDNN still wants them, so dx and dy stand in. */
    void globalAvgPoolBackward(int n, int c, int hw, boolean bf16, long dy, long dx) {
        Pool p = pool(new PoolKey(null, n, c, hw, bf16));
        CudaCheck.dnn(cudnnPoolingBackward(ctx.dnn(), p.desc(), one, p.y(), ptr(0, dy), p.y(), ptr(1, dy), p.x(), ptr(2, dx), zero,
                p.x(), ptr(3, dx)), "cudnnPoolingBackward(global average)");
    }

    // ----------------------------------------------------------------------------------- batch norm

    private record BnKey(int n, int c, int hw, boolean bf16) {}

    /** {@code eps}: the last training forward's, which cuDNN's backward wants again (Backend's backward does not carry it). */
    private static final class Bn {
        final cudnnTensorStruct x, param;
        double eps = 1e-5;

        Bn(cudnnTensorStruct x, cudnnTensorStruct param) { this.x = x; this.param = param; }
        cudnnTensorStruct x() { return x; }
        cudnnTensorStruct param() { return param; }
    }

    private Bn bn(int n, int c, int hw, boolean bf16) {
        return bns.computeIfAbsent(new BnKey(n, c, hw, bf16), k -> new Bn(tensor(n, c, hw, 1, bf16), tensor(1, c, 1, 1)));
    }

    void batchNormForwardTraining(int n, int c, int hw, boolean bf16, long x, long gamma, long beta, long y, long runMean, long runVar,
                                  double momentum, double eps, boolean updateRunning, long saveMean, long saveInvStd) {
        Bn b = bn(n, c, hw, bf16);
        b.eps = eps;
        // Slots 5 and 6 stay null when frozen: cuDNN then leaves the running statistics alone.
        CudaCheck.dnn(cudnnBatchNormalizationForwardTraining(ctx.dnn(), CUDNN_BATCHNORM_SPATIAL, one, zero, b.x(), ptr(0, x),
                b.x(), ptr(1, y), b.param(), ptr(2, gamma), ptr(3, beta), updateRunning ? momentum : 0,
                updateRunning ? ptr(4, runMean) : null, updateRunning ? ptr(5, runVar) : null, eps, ptr(6, saveMean),
                ptr(7, saveInvStd)), "cudnnBatchNormalizationForwardTraining");
    }

    void batchNormForwardInference(int n, int c, int hw, boolean bf16, long x, long gamma, long beta, long y, long runMean, long runVar,
                                   double eps) {
        Bn b = bn(n, c, hw, bf16);
        CudaCheck.dnn(cudnnBatchNormalizationForwardInference(ctx.dnn(), CUDNN_BATCHNORM_SPATIAL, one, zero, b.x(), ptr(0, x),
                b.x(), ptr(1, y), b.param(), ptr(2, gamma), ptr(3, beta), ptr(4, runMean), ptr(5, runVar), eps),
                "cudnnBatchNormalizationForwardInference");
    }

    void batchNormBackward(int n, int c, int hw, boolean bf16, long x, long dy, long gamma, long saveMean, long saveInvStd, long dx,
                           long dGamma, long dBeta) {
        Bn b = bn(n, c, hw, bf16);
        CudaCheck.dnn(cudnnBatchNormalizationBackward(ctx.dnn(), CUDNN_BATCHNORM_SPATIAL, one, zero, one, zero, b.x(), ptr(0, x),
                b.x(), ptr(1, dy), b.x(), ptr(2, dx), b.param(), ptr(3, gamma), ptr(4, dGamma), ptr(5, dBeta), b.eps,
                ptr(6, saveMean), ptr(7, saveInvStd)), "cudnnBatchNormalizationBackward");
    }

    @Override
    public void close() {
        for (Runnable r : destroy) r.run();
        destroy.clear();
        convs.clear();
        pools.clear();
        bns.clear();
        one.close();
        zero.close();
    }
}
