package dev.sam4j.cli;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.Precision;
import dev.sam4j.nn.models.Models;
import dev.sam4j.tensor.Shape;
import dev.sam4j.io.Json;
import dev.sam4j.benchmark.StepBenchmark;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sam4j bench}: ms per training step on random inputs, one JSON line per model, optimizer and batch
 * size. The methods of one model are timed interleaved, so {@code vs_erm_*} (each method against ERM in
 * the same rounds) is meaningful on a busy machine; {@code scripts/bench} and {@code sam4j bench-report}
 * turn the lines into tables and plots.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Time training steps (forward, backward, norm, policy, SAM branch, update) on random inputs; several "
                + "--optimizers are timed interleaved, one step of each in turn; prints one JSON line per model and optimizer.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--models", split = ",", description = "models to time")
    String[] models = {"mlp", "cnn"};

    @Option(names = "--optimizers", split = ",", description = "methods to time: erm, sam, asam, esam, sssam, looksam, aesam, aelooksam, msam")
    String[] optimizers = {"erm"};

    @Option(names = "--input", description = "per-example input shape C,H,W")
    String input = "1,28,28";

    @Option(names = "--classes", description = "number of classes")
    int classes = 10;

    @Option(names = "--batch-size", description = "batch size")
    int batch = 128;

    @Option(names = "--batch-sizes", split = ",", description = "several batch sizes, one after another (overrides --batch-size)")
    int[] batches;

    @Option(names = "--warmup", description = "untimed steps first (JIT, caches)")
    int warmup = 20;

    @Option(names = "--steps", description = "timed steps")
    int steps = 100;

    @Option(names = "--device", description = "auto, cpu, cpu-reference, cuda[:N]")
    String device = "auto";

    @Option(names = "--threads", description = "CPU threads")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--seed", description = "seed for weights and inputs")
    long seed = 42;

    @Option(names = "--precision", description = "fp32, tf32 (GEMM/conv inputs rounded to TF32) or bf16 (layers in bf16, "
            + "fp32 weights and SAM passes; on CUDA stored in 16 bits, on the CPU emulated in fp32 buffers)")
    String precision = "fp32";

    @Option(names = "--image-layout", description = "nchw (default) or nhwc (channels-last images between layers; cuda only)")
    String imageLayout = "nchw";

    @Option(names = "--cuda-step", description = "on CUDA: graph (the device-decided CUDA graph step, as sam4j train takes by "
            + "default; methods it does not run, ESAM and per-tensor LookSAM, take the host-driven step) or host (the host-driven "
            + "step for every method); each line's step_path says which")
    String cudaStep = "graph";

    @Override public Integer call() {
        String[] p = input.split(",");
        if (p.length != 3) throw new IllegalArgumentException("--input: expected C,H,W, got '" + input + "'");
        Shape shape;
        try {
            shape = Shape.of(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--input: expected three integers C,H,W, got '" + input + "'");
        }
        int[] sizes = batches != null && batches.length > 0 ? batches : new int[] {batch};
        for (int bs : sizes) if (bs < 1) throw new IllegalArgumentException("--batch-size: must be >= 1, got " + bs);
        if (steps < 1 || warmup < 0) throw new IllegalArgumentException("--steps must be >= 1 and --warmup >= 0");
        java.util.List<String> methods = java.util.Arrays.stream(optimizers).map(String::trim).toList();
        String spatial = null;  // the first model that needs cuDNN on CUDA
        for (String m : models) if (spatial == null && Models.create(m.trim(), shape, classes).usesSpatialOps()) spatial = "model " + m.trim();
        Precision pr = Precision.parse(precision);
        if (!cudaStep.equals("graph") && !cudaStep.equals("host")) {
            throw new IllegalArgumentException("--cuda-step: expected graph or host, got '" + cudaStep + "'");
        }
        ImageLayout lay = ImageLayout.parse(imageLayout);
        Backends.Choice c = Backends.choose(device, threads, new Backends.Needs(spatial, false, pr, lay));
        try (Backend b = c.backend()) {
            if (!b.supports(pr)) throw new IllegalArgumentException("--precision " + pr + ": " + b.unsupportedReason(pr));
            for (String m : models) for (int bs : sizes) {
                java.util.List<StepBenchmark.Result> rs = StepBenchmark.runInterleaved(b, m.trim(), methods, shape, classes, bs,
                        warmup, steps, seed, pr, cudaStep.equals("graph"));
                StepBenchmark.Result erm = rs.stream().filter(r -> r.method().equals("erm")).findFirst().orElse(null);
                long rss = residentBytes();
                for (StepBenchmark.Result r : rs) {
                    System.out.println(Json.write(line(r, erm, steps, b, rss, pr)));
                    System.out.flush();
                }
            }
        }
        return 0;
    }

    private Map<String, Object> line(StepBenchmark.Result r, StepBenchmark.Result erm, int steps, Backend b, long rss, Precision pr) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("impl", "sam4j");
        o.put("model", r.model());
        o.put("optimizer", r.method());
        o.put("batch", r.batch());
        o.put("steps", steps);
        o.put("median_ms", r.median());
        o.put("p90_ms", r.p90());
        o.put("mean_ms", r.mean());
        o.put("sam_fraction", r.samFraction());
        o.put("median_erm_path_ms", r.medianErmPath());
        o.put("median_sam_path_ms", r.medianSamPath());
        // A mixed method's cost is its mean step; the median would be an ERM-path step below half SAM steps.
        o.put("images_per_second", Math.round(r.batch() * 1000.0 / r.mean()));
        if (erm != null) {
            o.put("vs_erm_mean", r.mean() / erm.mean());
            o.put("vs_erm_median", r.median() / erm.median());
        }
        o.put("params", r.parameters());
        o.put("heap_mb", r.heapBytes() / 1048576.0);
        o.put("device_mb", r.deviceBytes() / 1048576.0);
        if (rss > 0) o.put("process_rss_mb", rss / 1048576.0);
        o.put("backend", b.name());
        o.put("backend_detail", b.describe());
        o.put("threads", threads);
        o.put("precision", pr.label());
        o.put("image_layout", b.imageLayout().label());
        o.put("step_path", r.stepPath());
        // On cuDNN: the convolution algorithms chosen so far in this process (every model timed until now) and whether
        // cuDNN reported tensor-core math for them, to tell a TF32 convolution from an FMA one.
        Backend.AlgorithmChoices a = b.algorithmChoices();
        if (a != null && !a.chosen().isEmpty()) {
            o.put("conv_algorithms", a.chosen());
            o.put("conv_math", a.mathTypes());
        }
        return o;
    }

    /** The process's resident set from /proc (Linux); 0 where there is none. Heap, native and JIT alike. */
    static long residentBytes() {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or /proc unreadable: the line just has no process_rss_mb
        }
        return 0;
    }
}
