package dev.sam4j.backend;

import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaRuntime;
import dev.sam4j.io.InvalidSettingException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;

/**
 * Chooses a backend from a device string ({@code auto | cpu | cpu-reference | cuda[:N]}) and says why.
 * The device may also come from the system property {@code sam4j.device} or the environment variable
 * {@code SAM4J_DEVICE}; an explicit option wins over both. {@code auto} takes the GPU when the CUDA probe
 * ({@link CudaRuntime#probe}) finds a driver and a device, this jar carries kernels for it, and, where the
 * run needs them ({@link Needs}), cuDNN 9 loads and opens a handle on it; else the CPU, saying why in one
 * line. An explicit {@code cuda[:N]} that cannot serve the run is refused in one line instead. The backend is
 * opened for the run's {@link Precision} ({@link Needs#precision}): for TF32, CUDA's GEMMs and convolutions
 * use tensor-core TF32 math and the CPU backends round GEMM and convolution inputs to TF32; whether the
 * backend then computes in that precision is for the run to ask ({@link Backend#supports}). A CUDA backend is
 * opened in the run's image layout ({@link Needs#layout}); the CPU backends keep images in NCHW only, so an
 * explicit CPU device with NHWC is refused, and {@code auto} falling back to the CPU says that it runs NCHW.
 */
public final class Backends {
    private Backends() {}

    /** A chosen backend and the one-line reason for the choice. */
    public record Choice(Backend backend, String reason) {}

    /**
     * What a run needs of a backend beyond the dense operations: {@code spatialOpsFor} names what uses
     * convolution, pooling or batch norm (e.g. {@code "model cnn"}; on CUDA they need cuDNN 9), or is null
     * when nothing does; {@code deterministic} asks for deterministic algorithms where a library offers a
     * choice (cuDNN's convolutions); {@code precision} is what the layers compute in; {@code layout} how images lie
     * between layers ({@link ImageLayout}; NHWC is for CUDA).
     */
    public record Needs(String spatialOpsFor, boolean deterministic, Precision precision, ImageLayout layout) {
        /** Dense operations only, fastest algorithms, fp32. */
        public static final Needs DENSE = new Needs(null, false);

        public Needs {
            if (precision == null) throw new IllegalArgumentException("precision must not be null");
            if (layout == null) throw new IllegalArgumentException("layout must not be null");
        }

        /** In NCHW. */
        public Needs(String spatialOpsFor, boolean deterministic, Precision precision) {
            this(spatialOpsFor, deterministic, precision, ImageLayout.NCHW);
        }

        /** In fp32. */
        public Needs(String spatialOpsFor, boolean deterministic) { this(spatialOpsFor, deterministic, Precision.FP32); }

        /** Whether the CPU backends are to round GEMM and convolution inputs to TF32. */
        boolean tf32() { return precision == Precision.TF32; }

    }

    public static Choice choose(String device, int threads) { return choose(device, threads, Needs.DENSE); }

    public static Choice choose(String device, int threads, Needs needs) { return choose(device, threads, needs, false); }

    /** The device to use: the explicit value unless it is null or {@code auto}, then the property, then the environment. */
    public static String resolveDevice(String explicit) {
        if (explicit != null && !explicit.isBlank() && !explicit.equalsIgnoreCase("auto")) return explicit;
        String p = System.getProperty("sam4j.device");
        if (p != null && !p.isBlank()) return p;
        String e = System.getenv("SAM4J_DEVICE");
        if (e != null && !e.isBlank()) return e;
        return "auto";
    }

    /** {@code acceptStandIn}: tests only, so that {@code auto} may take the CPU stand-ins of the CUDA libraries. */
    static Choice choose(String device, int threads, Needs needs, boolean acceptStandIn) {
        String d = resolveDevice(device).trim().toLowerCase(Locale.ROOT);
        if ((d.equals("cpu") || d.equals("cpu-reference")) && needs.layout() != ImageLayout.NCHW) {
            throw new InvalidSettingException("imageLayout(\"" + needs.layout() + "\"): the " + d + " backend keeps images in NCHW only;"
                    + " channels-last (nhwc) is for cuda", "image-layout", "--image-layout " + needs.layout() + ": the " + d
                    + " backend keeps images in NCHW only; channels-last (nhwc) is for --device cuda");
        }
        if (d.equals("cpu")) {
            return new Choice(new CpuBackend(threads, needs.tf32()), "cpu requested");
        }
        if (d.equals("cpu-reference")) {
            return new Choice(new ReferenceBackend(needs.tf32()), "cpu-reference requested (double-precision oracle; slow)");
        }
        if (d.equals("auto")) {
            return auto(threads, needs, cudaUnusable(acceptStandIn), index -> new CudaBackend(index, needs.precision(), needs.deterministic(), needs.layout()));
        }
        if (d.equals("cuda") || d.matches("cuda:\\d+")) {
            int index = d.equals("cuda") ? 0 : Integer.parseInt(d.substring(5));
            CudaRuntime.Availability a = CudaRuntime.probe();
            if (!a.available()) throw refused(d, "CUDA is not available: " + a.reason(), null);
            if (index >= a.deviceCount()) throw refused(d, "no such device, " + a.deviceCount() + " CUDA device(s)", null);
            CudaBackend cuda;
            try {
                cuda = new CudaBackend(index, needs.precision(), needs.deterministic(), needs.layout());
            } catch (RuntimeException | LinkageError e) {
                throw refused(d, failure(e), e);
            }
            String dnn = needs.spatialOpsFor() == null ? null : cuda.cudnnUnusable();
            if (dnn != null) {
                cuda.close();
                throw refused(d, needs.spatialOpsFor() + " needs cuDNN 9 for convolution, pooling and batch norm, which is not usable here: "
                        + dnn, null);
            }
            return new Choice(cuda, d + " requested");
        }
        String valid = "; valid: auto, cpu, cpu-reference, cuda[:N]";
        throw new InvalidSettingException("device(\"" + device + "\"): unknown device" + valid, "device",
                "--device: unknown device '" + device + "'" + valid);
    }

    /** Device {@code d} cannot be used: worded {@code device("cuda"): ...} for library code, {@code --device cuda: ...} for the CLI. */
    private static InvalidSettingException refused(String d, String problem, Throwable cause) {
        InvalidSettingException e = new InvalidSettingException("device(\"" + d + "\"): " + problem, "device", "--device " + d + ": " + problem);
        if (cause != null) e.initCause(cause);
        return e;
    }

    /**
     * {@code auto} once the probe has spoken: {@code unusable} is why the GPU must not be taken, or null when
     * it may; then opening it ({@code open}) may still fail, with a {@link RuntimeException} (a CUDA error) or
     * a {@link LinkageError} (JavaCPP or the CUDA presets missing from the class path, a JNI library that does
     * not load), and either falls back to the CPU with the reason.
     */
    static Choice auto(int threads, Needs needs, String unusable, IntFunction<CudaBackend> open) {
        String why = unusable;
        if (why == null) {
            CudaBackend cuda = null;
            try {
                cuda = open.apply(0);
                String dnn = needs.spatialOpsFor() == null ? null : cuda.cudnnUnusable();
                if (dnn == null) return new Choice(cuda, "auto: " + CudaRuntime.probe().reason() + ", using cuda:0");
                why = needs.spatialOpsFor() + " needs cuDNN 9 for convolution, pooling and batch norm: " + dnn;
            } catch (RuntimeException | LinkageError e) {
                why = "opening cuda:0 failed: " + failure(e);
            }
            if (cuda != null) cuda.close();
        }
        return new Choice(new CpuBackend(threads, needs.tf32()), "auto: no usable GPU (" + why + "), using the CPU"
                + (needs.layout() != ImageLayout.NCHW ? " (in NCHW: --image-layout " + needs.layout() + " is for cuda)" : ""));
    }

    /** One line for what went wrong opening a CUDA device; a linkage error names the optional dependencies. */
    static String failure(Throwable e) {
        if (e instanceof LinkageError) {
            return e.getClass().getSimpleName() + ": " + e.getMessage() + " (the CUDA backend needs the optional "
                    + "dependencies org.bytedeco:javacpp and org.bytedeco:cuda with their platform natives; see the README)";
        }
        return e.getMessage();
    }

    /** Why {@code auto} must not take the GPU, or null when it may. */
    private static String cudaUnusable(boolean acceptStandIn) {
        CudaRuntime.Availability a = CudaRuntime.probe();
        if (!a.available()) return a.reason();
        if (a.standIn() && !acceptStandIn) return "only the CPU stand-ins of the CUDA libraries were found";
        if (!gpuKernelsInJar()) {
            return "this jar was built without nvcc and has no GPU kernels";
        }
        return null;
    }

    /**
     * Whether this jar carries the GPU kernels (the fatbin that {@code nvcc} made at build time; a jar built
     * without {@code nvcc} has none and runs on the CPU only). Reads no native library.
     */
    public static boolean gpuKernelsInJar() {
        return Backends.class.getResource("/dev/sam4j/backend/cuda/kernels.fatbin") != null;
    }

    /**
     * What {@code sam4j info} tells of CUDA, one line each: the probe's reason, whether this jar carries GPU kernels
     * and for which targets, and where CUDA is available each device and the library versions. Here, so that
     * only the backend floor knows the CUDA backend's types.
     */
    /** Whether CUDA ranks can exchange device buffers here (NCCL loads), and if not, why; never throws. */
    public static DeviceCollective.Availability deviceCollectives() { return dev.sam4j.backend.cuda.Nccl.probe(); }

    /** A fresh id for {@link Backend#joinDeviceCollective} (an {@code ncclUniqueId}), made on rank 0 only. */
    public static byte[] deviceCollectiveId() { return dev.sam4j.backend.cuda.Nccl.uniqueId(); }

    public static List<String> describeCuda() {
        List<String> out = new ArrayList<>();
        CudaRuntime.Availability cuda = CudaRuntime.probe();
        out.add("cuda: " + cuda.reason());
        out.add("  GPU kernels: " + (gpuKernelsInJar() ? "in this jar, " : "none, ") + CudaRuntime.kernelTargets());
        if (cuda.available()) {
            for (CudaRuntime.DeviceInfo d : CudaRuntime.devices()) out.add("  " + d.describe());
            out.add("  " + CudaRuntime.versions());
            // for CUDA ranks (one process per GPU); gpu-check.sh reads the version from this line
            out.add("  nccl: " + deviceCollectives().reason());
        }
        return out;
    }
}
