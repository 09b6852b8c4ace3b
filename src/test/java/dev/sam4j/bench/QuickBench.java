package dev.sam4j.bench;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import java.util.Arrays;

/**
 * A plain-{@code main} companion to the JMH benchmarks for quick side-by-side runs (no forking, a few
 * seconds): SGEMM GFLOP/s for the shapes of {@link GemmBench} (best of several timed batches) and the
 * median time of the {@link StepBench} steps. Prints one line per measurement, {@code key value unit}.
 * {@code arena} times the whole-arena kernels of {@link ArenaBench} and a copy of the same size
 * <em>interleaved</em>, one call of each in turn, and prints each kernel's median GB/s over the copy's
 * median: on a shared machine that fraction stays meaningful where JMH's one-after-another runs do not.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp &lt;test classpath&gt; dev.sam4j.bench.QuickBench [threads] [gemm|steps|arena|all]</pre>
 *
 * Numbers from a shared or virtualised machine vary run to run; compare only numbers taken in the same
 * session, ideally interleaved with the baseline they are compared with.
 */
public final class QuickBench {
    private QuickBench() {}

    static final String[] SHAPES = {"128x128x128", "512x512x512", "1024x1024x1024", "2048x2048x2048",
            "128x512x784:NT", "128x512x512:NT", "128x10x512:NT", "512x784x128:TN", "512x512x128:TN",
            "10x512x128:TN", "128x784x512:NN", "128x512x512:NN", "64x196x288:NN", "64x288x196:NT",
            "288x196x64:TN"};

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        String what = args.length > 1 ? args[1] : "all";
        try (CpuBackend be = new CpuBackend(threads)) {
            System.out.println("# " + be.describe());
            if (what.equals("arena")) {
                arena(be, threads, 1 << 20, 200);
                arena(be, threads, 1 << 24, 40);
                return;
            }
            if (!what.equals("steps")) for (String s : SHAPES) gemm(be, s);
            if (!what.equals("gemm")) {
                step("mlp", StepBench.mlp(be), 300);
                step("cnn", StepBench.cnn(be), 40);
            }
        }
    }

    static void gemm(CpuBackend be, String shape) {
        String[] parts = shape.split(":");
        String[] d = parts[0].split("x");
        int m = Integer.parseInt(d[0]), n = Integer.parseInt(d[1]), k = Integer.parseInt(d[2]);
        boolean ta = parts.length > 1 && parts[1].charAt(0) == 'T', tb = parts.length > 1 && parts[1].charAt(1) == 'T';
        Buffer a = StepBench.random(be, m * k, 1, 1), b = StepBench.random(be, k * n, 2, 1), c = be.allocate((long) m * n);
        double flops = 2.0 * m * n * k;
        int calls = (int) Math.max(3, 2e9 / flops);
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 8; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) be.gemm(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0f, c, n);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9 / calls);
        }
        System.out.printf("gemm %s %.1f GFLOP/s%n", shape, flops / best / 1e9);
    }

    /**
     * The arena kernels and a {@code threads}-way sliced {@code System.arraycopy}, interleaved for
     * {@code rounds} rounds after as many warm-up rounds; GB/s counts the bytes each operation names
     * (see {@link ArenaBench}).
     */
    static void arena(CpuBackend be, int threads, int n, int rounds) {
        Buffer w = StepBench.random(be, n, 1, 1), g = StepBench.random(be, n, 2, 1), m = be.allocate(n), ws = StepBench.random(be, n, 3, 1),
                gs = be.allocate(n);
        float[] src = new float[n], dst = new float[n];
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        String[] names = {"copy", "sumOfSquares", "samPerturb", "restoreSgdUpdate", "sgdUpdate"};
        double[] bytes = {8.0 * n, 4.0 * n, 20.0 * n, 20.0 * n, 20.0 * n};
        Runnable[] ops = {
            () -> {
                int per = (n + threads - 1) / threads;
                java.util.List<java.util.concurrent.Future<?>> f = new java.util.ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int from = t * per, len = Math.min(per, n - from);
                    f.add(pool.submit(() -> System.arraycopy(src, from, dst, from, len)));
                }
                try {
                    for (var x : f) x.get();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            },
            () -> { if (be.sumOfSquares(g, n) < 0) throw new AssertionError(); },
            () -> be.samPerturb(w, g, ws, gs, n, 1e-9),
            () -> be.restoreSgdUpdate(w, ws, g, m, n, 0f, 0.9f, 5e-4f, false),
            () -> be.sgdUpdate(w, g, m, n, 0f, 0.9f, 5e-4f, false)};
        double[][] t = new double[ops.length][rounds];
        for (int r = -rounds; r < rounds; r++) {
            for (int k = 0; k < ops.length; k++) {
                long t0 = System.nanoTime();
                ops[k].run();
                if (r >= 0) t[k][r] = (System.nanoTime() - t0) / 1e9;
            }
        }
        pool.shutdown();
        double copy = 0;
        for (int k = 0; k < ops.length; k++) {
            Arrays.sort(t[k]);
            double gbs = bytes[k] / t[k][rounds / 2] / 1e9;
            if (k == 0) copy = gbs;
            System.out.printf("arena %s n=%d %.2f GB/s (median of %d, interleaved) %.0f%% of copy%n", names[k], n, gbs, rounds,
                    100 * gbs / copy);
        }
    }

    static void step(String name, Runnable step, int steps) {
        for (int i = 0; i < steps / 2; i++) step.run();
        long[] t = new long[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            step.run();
            t[i] = System.nanoTime() - t0;
        }
        Arrays.sort(t);
        System.out.printf("step %s %.2f ms (median; p10 %.2f, p90 %.2f)%n", name, t[steps / 2] / 1e6, t[steps / 10] / 1e6,
                t[steps * 9 / 10] / 1e6);
    }
}
