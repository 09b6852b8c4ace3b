package dev.sam4j.cli;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.tensor.Shape;
import dev.sam4j.train.Json;
import dev.sam4j.train.StepBenchmark;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sam4j bench}: median ms per training step on random inputs, one JSON line per model. */
@Command(name = "bench", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Time training steps (forward, backward, norm, policy, SAM branch, update) on random inputs; several "
                + "--optimizers are timed interleaved, one step of each in turn; prints one JSON line per model and optimizer.")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--models", split = ",", description = "models to time")
    String[] models = {"mlp", "cnn"};

    @Option(names = "--optimizers", split = ",", description = "methods to time: erm, sam, asam, esam, sssam, looksam, aesam, aelooksam")
    String[] optimizers = {"erm"};

    @Option(names = "--input", description = "per-example input shape C,H,W")
    String input = "1,28,28";

    @Option(names = "--classes", description = "number of classes")
    int classes = 10;

    @Option(names = "--batch-size", description = "batch size")
    int batch = 128;

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

    @Override public Integer call() {
        String[] p = input.split(",");
        if (p.length != 3) throw new IllegalArgumentException("--input: expected C,H,W, got '" + input + "'");
        Shape shape;
        try {
            shape = Shape.of(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--input: expected three integers C,H,W, got '" + input + "'");
        }
        if (batch < 1) throw new IllegalArgumentException("--batch-size: must be >= 1, got " + batch);
        if (steps < 1 || warmup < 0) throw new IllegalArgumentException("--steps must be >= 1 and --warmup >= 0");
        Backends.Choice c = Backends.choose(device, threads);
        try (Backend b = c.backend()) {
            for (String m : models) for (StepBenchmark.Result r : StepBenchmark.runInterleaved(b, m.trim(),
                    java.util.Arrays.stream(optimizers).map(String::trim).toList(), shape, classes, batch, warmup, steps, seed)) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("impl", "sam4j");
                o.put("model", r.model());
                o.put("optimizer", r.method());
                o.put("batch", r.batch());
                o.put("steps", steps);
                o.put("median_ms", r.median());
                o.put("p90_ms", r.p90());
                o.put("sam_fraction", r.samFraction());
                o.put("median_erm_path_ms", r.medianErmPath());
                o.put("median_sam_path_ms", r.medianSamPath());
                o.put("images_per_second", Math.round(r.imagesPerSecond()));
                o.put("params", r.parameters());
                o.put("backend", b.name());
                o.put("threads", threads);
                System.out.println(Json.write(o));
                System.out.flush();
            }
        }
        return 0;
    }
}
