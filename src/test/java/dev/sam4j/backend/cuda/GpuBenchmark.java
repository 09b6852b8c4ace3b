package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoDAsync;
import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;

import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cudart.CUevent_st;

/**
 * The GPU check's measurements ({@code scripts/gpu-check.sh} runs it from the bundle):
 * <ol>
 *   <li>{@code probe}: exit 0 when a real GPU is usable, else 2 with the reason on one line;</li>
 *   <li>{@code bench OUTDIR}: bandwidth of the SAM hot-path kernels over an 11M-float arena (ResNet-18's
 *       size, which fits in an H100's or H200's L2 cache) and over arrays of 4× the device's L2 size each (read
 *       from the device, so that memory, not the cache, is measured), each as a fraction of the measured
 *       device-to-device copy of the same size and of the theoretical memory bandwidth
 *       ({@link CudaRuntime.DeviceInfo#peakBandwidth}) (CUDA events, medians of 20 after warm-up), and
 *       ms per {@code mlp} step (batch 128, 28×28 inputs) for ERM, SAM and AE-SAM on the host path (the
 *       decision read back each step) and the graph path ({@link StepGraph}: one graph launch per step,
 *       decided on the device); writes {@code bench.json} and {@code bench.txt}.</li>
 *   <li>{@code resnet OUTDIR [tf32]}: ResNet-18 at batch 128 on synthetic 3×32×32 inputs, graph path, mean
 *       ms/step (CUDA events around each step, after warm-up) and images/s of ERM, SAM, AE-SAM (with its
 *       measured SAM fraction), LookSAM and AE-LookSAM, and the policy overheads the issue targets; writes
 *       {@code resnet18.json} and {@code resnet18.txt} (the PyTorch peer reads the JSON for its ratios).</li>
 * </ol>
 */
public final class GpuBenchmark {
    private GpuBenchmark() {}

    public static void main(String[] args) throws IOException {
        String mode = args.length > 0 ? args[0] : "probe";
        CudaRuntime.Availability a = CudaRuntime.probe();
        if (!a.available() || a.standIn()) {
            System.out.println("NO GPU: " + (a.available() ? "only the CPU stand-ins of the CUDA libraries were found" : a.reason()));
            System.exit(2);
        }
        if (mode.equals("probe")) {
            for (CudaRuntime.DeviceInfo d : CudaRuntime.devices()) System.out.println("GPU: " + d.describe());
            System.out.println("versions: " + CudaRuntime.versions());
            return;
        }
        Path out = Path.of(args.length > 1 ? args[1] : ".");
        Files.createDirectories(out);
        Map<String, Object> results = new LinkedHashMap<>();
        List<String> table = new ArrayList<>();
        boolean resnet = mode.equals("resnet");
        boolean tf32 = args.length > 2 && args[2].equals("tf32");
        try (CudaBackend cuda = new CudaBackend(0, resnet && tf32)) {
            results.put("device", cuda.describe());
            results.put("versions", CudaRuntime.versions());
            if (resnet) {
                resnet(cuda, results, table);
            } else {
                bandwidth(cuda, results, table);
                steps(cuda, results, table);
            }
        }
        write(out, resnet ? "resnet18" : "bench", results, table);
    }

    private static void write(Path out, String name, Map<String, Object> results, List<String> table) throws IOException {
        StringBuilder json = new StringBuilder("{\n");
        int i = 0;
        for (Map.Entry<String, Object> e : results.entrySet()) {
            json.append("  \"").append(e.getKey()).append("\": ");
            Object v = e.getValue();
            json.append(v instanceof Number ? String.format(Locale.ROOT, "%.4f", ((Number) v).doubleValue())
                    : "\"" + String.valueOf(v).replace("\"", "'") + "\"");
            json.append(++i < results.size() ? ",\n" : "\n");
        }
        json.append("}\n");
        Files.writeString(out.resolve(name + ".json"), json);
        Files.writeString(out.resolve(name + ".txt"), String.join("\n", table) + "\n");
        table.forEach(System.out::println);
    }

    // ------------------------------------------------------------------------------------ bandwidth

    /** ResNet-18's parameter count: the arena size the kernels run over in training. */
    static final long RESNET18_FLOATS = 11_173_962L;

    /** Floats per array so that one array is at least 4× the L2 cache: memory, not the cache, is then measured. */
    static long beyondL2(long l2Bytes) { return Math.max(RESNET18_FLOATS, (4 * l2Bytes + 3) / 4); }

    static void bandwidth(CudaBackend cuda, Map<String, Object> r, List<String> table) {
        CudaRuntime.DeviceInfo dev = CudaRuntime.devices().get(cuda.ctx.device);
        double peak = dev.peakBandwidth() / 1e9;
        r.put("l2_bytes", dev.l2Bytes());
        r.put("peak_GBps", peak);
        table.add(String.format(Locale.ROOT, "bandwidth (medians of 20, CUDA events); theoretical peak %.0f GB/s (%d-bit bus, %d MHz"
                + " memory clock, x2 for double data rate); L2 %d MiB:", peak, dev.memoryBusBits(), dev.memoryClockKHz() / 1000,
                dev.l2Bytes() >> 20));
        bandwidth(cuda, RESNET18_FLOATS, "", peak, r, table);
        bandwidth(cuda, beyondL2(dev.l2Bytes()), "_4xL2", peak, r, table);
    }

    /** The kernels over arrays of {@code n} floats; JSON keys end in {@code suffix}. */
    static void bandwidth(CudaBackend cuda, long n, String suffix, double peak, Map<String, Object> r, List<String> table) {
        Buffer w = cuda.allocate(n), g = cuda.allocate(n), ws = cuda.allocate(n), gs = cuda.allocate(n), m = cuda.allocate(n);
        cuda.fill(w, 0.01f, n);
        cuda.fill(g, 0.001f, n);
        long bytes = 4 * n;
        CudaBuffer W = (CudaBuffer) w, WS = (CudaBuffer) ws, G = (CudaBuffer) g;
        double copy = gbps(2 * bytes, medianMs(cuda, () -> CudaCheck.cu(
                cuMemcpyDtoDAsync(WS.address, W.address, bytes, cuda.ctx.stream), "cuMemcpyDtoDAsync")));
        double sumsq = gbps(bytes, medianMs(cuda, () -> cuda.k.sumOfSquares(G.address, n, cuda.scratch + CudaBackend.PARTIALS,
                cuda.scratch + CudaBackend.S, cuda.scratch + CudaBackend.NONFINITE)));
        double perturb = gbps(5 * bytes, medianMs(cuda, () -> cuda.samPerturb(w, g, ws, gs, n, 1e-6f)));
        double restore = gbps(5 * bytes, medianMs(cuda, () -> cuda.restoreSgdUpdate(w, ws, g, m, n, 1e-6f, 0.9f, 5e-4f, false)));
        r.put("n" + suffix, n);
        r.put("copy_GBps" + suffix, copy);
        r.put("sumsq_GBps" + suffix, sumsq);
        r.put("perturb_GBps" + suffix, perturb);
        r.put("restore_update_GBps" + suffix, restore);
        table.add(String.format(Locale.ROOT, "  n=%,d floats (%.0f MB per array)%s:", n, 4e-6 * n, suffix.isEmpty() ? "" : ", 4x the L2 size"));
        table.add(String.format(Locale.ROOT, "    D2D copy        %7.0f GB/s                  %5.1f%% of peak (read + write)", copy, 100 * copy / peak));
        for (Object[] k : new Object[][] {{"sum of squares", sumsq, "1 read"}, {"perturb", perturb, "2 reads + 3 writes"},
                {"restore+update", restore, "3 reads + 2 writes"}}) {
            double v = (double) k[1];
            table.add(String.format(Locale.ROOT, "    %-15s %7.0f GB/s  %5.1f%% of copy  %5.1f%% of peak (%s)", k[0], v, 100 * v / copy,
                    100 * v / peak, k[2]));
        }
        for (Buffer b : List.of(w, g, ws, gs, m)) ((CudaBuffer) b).close();
    }

    static double gbps(long bytes, double ms) { return bytes / ms / 1e6; }

    static double medianMs(CudaBackend cuda, Runnable work) {
        CUevent_st start = new CUevent_st(), stop = new CUevent_st();
        CudaCheck.rt(cudaEventCreate(start), "cudaEventCreate");
        CudaCheck.rt(cudaEventCreate(stop), "cudaEventCreate");
        try {
            for (int i = 0; i < 3; i++) work.run();
            double[] ms = new double[20];
            float[] t = {0};
            for (int i = 0; i < ms.length; i++) {
                CudaCheck.rt(cudaEventRecord(start, cuda.ctx.stream), "cudaEventRecord");
                work.run();
                CudaCheck.rt(cudaEventRecord(stop, cuda.ctx.stream), "cudaEventRecord");
                CudaCheck.rt(cudaEventSynchronize(stop), "cudaEventSynchronize");
                CudaCheck.rt(cudaEventElapsedTime(t, start, stop), "cudaEventElapsedTime");
                ms[i] = t[0];
            }
            Arrays.sort(ms);
            return (ms[9] + ms[10]) / 2;
        } finally {
            cudaEventDestroy(start);
            cudaEventDestroy(stop);
        }
    }

    // ---------------------------------------------------------------------------------- MLP steps

    static final Shape INPUT = Shape.of(1, 28, 28);
    static final int CLASSES = 10, BATCH = 128, WARMUP = 20, STEPS = 200;

    static void steps(CudaBackend cuda, Map<String, Object> r, List<String> table) {
        table.add(String.format(Locale.ROOT, "mlp step, batch %d, %s inputs, %d steps after %d warm-up (ms/step, wall clock):",
                BATCH, INPUT, STEPS, WARMUP));
        for (String name : List.of("erm", "sam", "aesam")) {
            double host = hostPath(cuda, name, r);
            String graph;
            try {
                double ms = graphPath(cuda, name, r);
                graph = String.format(Locale.ROOT, "graph %7.3f ms (%.2fx)", ms, host / ms);
            } catch (RuntimeException | LinkageError e) {
                graph = "graph FAILED: " + e;
                r.put(name + "_graph_error", String.valueOf(e));
            }
            table.add(String.format(Locale.ROOT, "  %-6s host %7.3f ms   %s   %%SAM %s", name, host, graph, r.get(name + "_sam_fraction")));
        }
    }

    private static float[][] batch(SplittableRandom rnd) {
        float[] x = new float[BATCH * INPUT.intSize()], y = new float[BATCH];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < BATCH; i++) y[i] = rnd.nextInt(CLASSES);
        return new float[][] {x, y};
    }

    static double hostPath(CudaBackend cuda, String name, Map<String, Object> r) {
        Method method = Method.of(name, Method.Hyper.defaults());
        try (Model model = Models.build("mlp", INPUT, CLASSES, cuda, BATCH, 1)) {
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(cuda, CLASSES, BATCH);
            Sgd sgd = new Sgd(cuda, model.paramCount(), 0.9, 5e-4, false);
            SamOptimizer opt = new SamOptimizer(cuda, model.paramLayout(), model.params(), model.grads(), sgd, method, 1);
            Buffer x = cuda.allocate((long) BATCH * INPUT.size()), y = cuda.allocate(BATCH);
            float[][] b = batch(new SplittableRandom(5));
            cuda.upload(b[0], 0, x, b[0].length);
            cuda.upload(b[1], 0, y, b[1].length);
            GradientClosure closure = mode -> {
                Buffer logits = model.forward(x, BATCH, mode);
                double l = loss.forwardBackward(logits, y, BATCH);
                model.backward(loss.dLogits(), BATCH);
                return l;
            };
            long total = WARMUP + STEPS;
            for (int t = 0; t < WARMUP; t++) opt.step(closure, t, total, 0.01);
            long syncs = cuda.hostSyncs();
            long t0 = System.nanoTime();
            int sam = 0;
            for (int t = WARMUP; t < total; t++) sam += opt.step(closure, t, total, 0.01).sam() ? 1 : 0;
            cuda.sumOfSquares(model.params(), 1);  // drains the stream
            double ms = (System.nanoTime() - t0) / 1e6 / STEPS;
            r.put(name + "_host_ms", ms);
            r.put(name + "_host_syncs_per_step", (cuda.hostSyncs() - syncs) / (double) STEPS);
            r.put(name + "_sam_fraction", String.format(Locale.ROOT, "%.2f", sam / (double) STEPS));
            return ms;
        }
    }

    static double graphPath(CudaBackend cuda, String name, Map<String, Object> r) {
        Method method = Method.of(name, Method.Hyper.defaults());
        try (Model model = Models.build("mlp", INPUT, CLASSES, cuda, BATCH, 1)) {
            Buffer x = cuda.allocate((long) BATCH * INPUT.size()), y = cuda.allocate(BATCH);
            float[][] b = batch(new SplittableRandom(5));
            cuda.upload(b[0], 0, x, b[0].length);
            cuda.upload(b[1], 0, y, b[1].length);
            long total = WARMUP + STEPS;
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, BATCH, method, new LrSchedule.Constant(0.01, 0), total,
                    0.9, 5e-4, false, 1)) {
                for (int t = 0; t < WARMUP; t++) step.step();
                step.state();
                long syncs = cuda.hostSyncs();
                long t0 = System.nanoTime();
                for (int t = WARMUP; t < total; t++) step.step();
                long launchSyncs = cuda.hostSyncs() - syncs;
                StepGraph.State st = step.state();
                double ms = (System.nanoTime() - t0) / 1e6 / STEPS;
                r.put(name + "_graph_ms", ms);
                r.put(name + "_graph_syncs_in_steps", launchSyncs);
                r.put(name + "_graph_sam_steps", st.samSteps());
                return ms;
            }
        }
    }

    // ------------------------------------------------------------------------------ ResNet-18 steps

    static final Shape IMAGE = Shape.of(3, 32, 32);
    static final int RESNET_WARMUP = 10, RESNET_STEPS = 30;

    static void resnet(CudaBackend cuda, Map<String, Object> r, List<String> table) {
        table.add(String.format(Locale.ROOT, "resnet18 step, batch %d, %s synthetic inputs, graph path, mean of %d after %d warm-up"
                + " (CUDA events):", BATCH, IMAGE, RESNET_STEPS, RESNET_WARMUP));
        for (String name : List.of("erm", "sam", "aesam", "looksam", "aelooksam")) {
            try {
                double ms = resnetGraph(cuda, name, r);
                r.put("resnet18_" + name + "_ms", ms);
                r.put("resnet18_" + name + "_images_per_s", BATCH / ms * 1000);
                table.add(String.format(Locale.ROOT, "  %-10s %8.2f ms/step %9.0f img/s   %%SAM %s", name, ms, BATCH / ms * 1000,
                        r.get("resnet18_" + name + "_sam_fraction")));
            } catch (RuntimeException | LinkageError e) {
                r.put("resnet18_" + name + "_error", String.valueOf(e));
                table.add(String.format(Locale.ROOT, "  %-10s FAILED: %s", name, e));
            }
        }
        if (r.get("resnet18_erm_ms") instanceof Double erm) {
            if (r.get("resnet18_sam_ms") instanceof Double sam) {
                table.add(String.format(Locale.ROOT, "  SAM step / ERM step: %.2fx (target <= 2.05x)", sam / erm));
            }
        }
    }

    static double resnetGraph(CudaBackend cuda, String name, Map<String, Object> r) {
        Method method = Method.of(name, Method.Hyper.defaults());
        try (Model model = Models.build("resnet18", IMAGE, CLASSES, cuda, BATCH, 1)) {
            Buffer x = cuda.allocate((long) BATCH * IMAGE.size()), y = cuda.allocate(BATCH);
            SplittableRandom rnd = new SplittableRandom(5);
            float[] xs = new float[BATCH * IMAGE.intSize()], ys = new float[BATCH];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < BATCH; i++) ys[i] = rnd.nextInt(CLASSES);
            cuda.upload(xs, 0, x, xs.length);
            cuda.upload(ys, 0, y, ys.length);
            long total = RESNET_WARMUP + RESNET_STEPS;
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, BATCH, method, new LrSchedule.Constant(0.01, 0), total,
                    0.9, 5e-4, false, 1)) {
                for (int t = 0; t < RESNET_WARMUP; t++) step.step();
                long samBefore = step.state().samSteps();
                CUevent_st start = new CUevent_st(), stop = new CUevent_st();
                CudaCheck.rt(cudaEventCreate(start), "cudaEventCreate");
                CudaCheck.rt(cudaEventCreate(stop), "cudaEventCreate");
                double[] ms = new double[RESNET_STEPS];
                float[] t = {0};
                try {
                    for (int i = 0; i < RESNET_STEPS; i++) {
                        CudaCheck.rt(cudaEventRecord(start, cuda.ctx.stream), "cudaEventRecord");
                        step.step();
                        CudaCheck.rt(cudaEventRecord(stop, cuda.ctx.stream), "cudaEventRecord");
                        CudaCheck.rt(cudaEventSynchronize(stop), "cudaEventSynchronize");
                        CudaCheck.rt(cudaEventElapsedTime(t, start, stop), "cudaEventElapsedTime");
                        ms[i] = t[0];
                    }
                } finally {
                    cudaEventDestroy(start);
                    cudaEventDestroy(stop);
                }
                long sam = step.state().samSteps() - samBefore;
                r.put("resnet18_" + name + "_sam_fraction", String.format(Locale.ROOT, "%.2f", sam / (double) RESNET_STEPS));
                // The mean, not the median: with a mixed policy (AE-SAM, LookSAM) most steps may be ERM steps,
                // and a median would hide the SAM steps' cost entirely.
                return Arrays.stream(ms).average().orElse(Double.NaN);
            }
        }
    }
}
