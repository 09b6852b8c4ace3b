package dev.sam4j.backend.cpu;

import static dev.sam4j.backend.cpu.BackendHarness.put;
import static dev.sam4j.backend.cpu.BackendHarness.uniform;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Once compiled, the hot operations allocate nothing (measured on every thread of the backend with
 * {@code ThreadMXBean.getThreadAllocatedBytes}). Until C2 has compiled a Vector API method, its vector
 * values are heap objects, so the check repeats rounds of calls until a round is allocation-free (a
 * small slack covers JIT transitions) and fails only if none is. The failure this guards against is a
 * vector value that C2 cannot keep in registers (e.g. one passed through {@code ?:}), which allocates
 * on every call forever and runs the slow fallback path.
 *
 * <p>The check runs in a fresh JVM of its own (this class's {@code main}), with this JVM's vector width and
 * code-generation flags, as a training process would start. Run after the rest of the suite in one JVM, C2
 * sometimes compiled one kernel of the dispatching methods with a boxed vector (6 bytes per element:
 * {@code axpby} in one run, {@code sumRows} and {@code addRowBias} in the next, none when the class ran alone),
 * seen at 256 bits on an AVX-512 machine; which kernel depended on the JIT's timing, not on the code. In a
 * fresh JVM the result depends only on the code.
 */
class CpuBackendAllocationTest {

    @org.junit.jupiter.api.BeforeAll
    static void widthAvailable() {
        BackendHarness.assumeWidthAvailable();
    }


    private static long allocated(long[] ids) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(ids)) if (b > 0) sum += b;
        return sum;
    }

    private static long[] backendThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("sam4j-cpu-"))
                .mapToLong(Thread::threadId).toArray();
    }

    @Test
    void steadyStateStepAllocatesNothing() throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(
                java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m"));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // The vector module, native access, code-generation flags (e.g. -XX:UseAVX=2) and sam4j's own
            // properties (the vector width of this execution) carry over; heap size and agents do not.
            if (arg.startsWith("--add-modules") || arg.startsWith("--enable-native-access") || arg.startsWith("-Dsam4j.")
                    || (arg.startsWith("-XX:") && !arg.contains("Heap") && !arg.contains("GC"))) {
                cmd.add(arg);
            }
        }
        if (System.getProperty(VectorWidths.PROPERTY) != null) {
            cmd.add("-D" + VectorWidths.PROPERTY + "=" + System.getProperty(VectorWidths.PROPERTY));
        }
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), CpuBackendAllocationTest.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        org.junit.jupiter.api.Assertions.assertTrue(p.waitFor(300, java.util.concurrent.TimeUnit.SECONDS),
                "the allocation check's JVM did not end: " + out);
        java.util.List<String> result = out.lines().filter(l -> l.startsWith("allocation-check: ")).toList();
        org.junit.jupiter.api.Assertions.assertEquals(1, result.size(), "no result from the allocation check's JVM: " + out);
        String verdict = result.get(0).substring("allocation-check: ".length());
        if (!verdict.equals("ok")) fail(verdict);
        org.junit.jupiter.api.Assertions.assertEquals(0, p.exitValue(), out);
    }

    /** The check itself, in a fresh JVM: prints one {@code allocation-check: } line, {@code ok} or the failure. */
    public static void main(String[] args) {
        String problem = VectorWidths.problem();
        if (problem != null) {
            System.out.println("allocation-check: width not available: " + problem);
            System.exit(2);
        }
        String verdict = check();
        System.out.println("allocation-check: " + verdict);
        System.exit(verdict.equals("ok") ? 0 : 1);
    }

    private static String check() {
        try (CpuBackend b = new CpuBackend(2)) {
            int m = 30, n = 40, k = 50;
            Buffer a = put(b, uniform(m * k, 1)), bb = put(b, uniform(k * n, 2)), c = b.allocate(m * n);
            ConvGeom g = new ConvGeom(3, 10, 10, 8, 3, 3, 1, 1);
            int batch = 4;
            Buffer x = put(b, uniform(batch * g.inSize(), 3)), w = put(b, uniform(g.weightSize(), 4));
            Buffer bias = put(b, uniform(g.outC(), 5)), y = b.allocate(batch * g.outSize()), dx = b.allocate(batch * g.inSize());
            Buffer dw = b.allocate(g.weightSize()), db = b.allocate(g.outC()), ws = b.allocate(b.convWorkspaceSize(g, batch));
            PoolGeom pg = new PoolGeom(8, 10, 10, 2, 2, 0);
            Buffer py = b.allocate(batch * pg.outSize()), pdx = b.allocate(batch * pg.inSize());
            int len = 100_000;
            Buffer v1 = put(b, uniform(len, 6)), v2 = put(b, uniform(len, 7)), v3 = b.allocate(len);
            Buffer s1 = b.allocate(len), s2 = b.allocate(len);
            Buffer gamma = put(b, uniform(8, 8)), beta = put(b, uniform(8, 9)), rm = b.allocate(8), rv = b.allocate(8);
            Buffer sm = b.allocate(8), si = b.allocate(8), dg = b.allocate(8), dbeta = b.allocate(8), bdx = b.allocate(batch * g.outSize());
            // Named, so that a failure says which operation allocates (e.g. on a width this machine lacks).
            java.util.List<java.util.Map.Entry<String, Runnable>> ops = java.util.List.of(
                    java.util.Map.entry("gemm#0", () -> b.gemm(false, true, m, n, k, 1f, a, k, bb, k, 0f, c, n)),
                    java.util.Map.entry("gemm#1", () -> b.gemm(true, false, m, n, k, 0.5f, a, m, bb, n, 1f, c, n)),
                    java.util.Map.entry("gemm#2", () -> b.gemm(false, false, m, n, k, 1f, a, k, bb, n, 0.25f, c, n)),
                    java.util.Map.entry("convForward#3", () -> b.convForward(g, batch, x, w, bias, y, ws)),
                    java.util.Map.entry("convBackwardData#4", () -> b.convBackwardData(g, batch, y, w, dx, ws)),
                    java.util.Map.entry("convBackwardFilter#5", () -> b.convBackwardFilter(g, batch, x, y, dw, db, ws)),
                    java.util.Map.entry("maxPoolForward#6", () -> b.maxPoolForward(pg, batch, y, py)),
                    java.util.Map.entry("maxPoolBackward#7", () -> b.maxPoolBackward(pg, batch, y, py, py, pdx)),
                    java.util.Map.entry("batchNormForwardTraining#8", () -> b.batchNormForwardTraining(batch, 8, 100, y, gamma, beta, y, rm, rv, 0.1, 1e-5, true, sm, si)),
                    java.util.Map.entry("batchNormBackward#9", () -> b.batchNormBackward(batch, 8, 100, y, y, gamma, sm, si, bdx, dg, dbeta)),
                    java.util.Map.entry("reluForward#10", () -> b.reluForward(v1, v3, len)),
                    java.util.Map.entry("reluBackward#11", () -> b.reluBackward(v1, v2, v3, len)),
                    java.util.Map.entry("add#12", () -> b.add(v1, v2, v3, len)),
                    java.util.Map.entry("sumOfSquares#13", () -> b.sumOfSquares(v1, len)),
                    java.util.Map.entry("sgdUpdate#14", () -> b.sgdUpdate(v3, v2, v1, len, 0f, 0.9f, 0f, true)),
                    java.util.Map.entry("sgdUpdate#15", () -> b.sgdUpdate(v3, v2, v1, len, 0f, 0.9f, 0f, false)),
                    java.util.Map.entry("sumRows#16", () -> b.sumRows(v1, v3, 100, 1000)),
                    java.util.Map.entry("addRowBias#17", () -> b.addRowBias(v3, v1, 100, 1000)),
                    java.util.Map.entry("globalAvgPoolForward#18", () -> b.globalAvgPoolForward(batch, 8, 100, y, v3)),
                    java.util.Map.entry("globalAvgPoolBackward#19", () -> b.globalAvgPoolBackward(batch, 8, 100, v3, bdx)),
                    java.util.Map.entry("dot#20", () -> b.dot(v1, v2, len)),
                    java.util.Map.entry("asamNormSquared#21", () -> b.asamNormSquared(v1, v2, len, 0.01)),
                    java.util.Map.entry("axpby#22", () -> b.axpby(-0.5, v1, 1.0, v2, v3, len)),
                    java.util.Map.entry("samPerturb#23", () -> b.samPerturb(v3, v2, s1, s2, len, 1e-3)),
                    java.util.Map.entry("asamPerturb#24", () -> b.asamPerturb(v3, v2, s1, s2, len, 1e-3, 0.01)),
                    java.util.Map.entry("restoreSgdUpdate#25", () -> b.restoreSgdUpdate(v3, s1, v2, v1, len, 0f, 0.9f, 0f, false)),
                    java.util.Map.entry("restoreSgdUpdate#26", () -> b.restoreSgdUpdate(v3, s1, v2, v1, len, 0f, 0.9f, 0f, true)),
                    java.util.Map.entry("sgdUpdateWithDirection#27", () -> b.sgdUpdateWithDirection(v3, v2, s2, 0.5, v1, len, 0f, 0.9f, 0f, false)),
                    java.util.Map.entry("sgdUpdateWithDirection#28", () -> b.sgdUpdateWithDirection(v3, v2, s2, 0.5, v1, len, 0f, 0.9f, 0f, true)));
            Runnable step = () -> {
                for (var op : ops) op.getValue().run();
            };
            long[] ids = backendThreads();
            long last = -1;
            for (int round = 0; round < 60; round++) {
                long before = allocated(ids);
                for (int i = 0; i < 50; i++) step.run();
                last = allocated(ids) - before;
                if (last < 50 * 64) return "ok"; // < 64 bytes per step on average: JIT noise, not per-call boxing
            }
            StringBuilder culprits = new StringBuilder();
            for (var op : ops) {
                long before = allocated(ids);
                for (int i = 0; i < 50; i++) op.getValue().run();
                long per = (allocated(ids) - before) / 50;
                if (per >= 64) culprits.append(' ').append(op.getKey()).append('=').append(per);
            }
            return "the step still allocates " + last / 50 + " bytes per call after warm-up (" + VectorWidths.BITS
                    + "-bit vectors); per operation:" + culprits;
        }
    }
}
