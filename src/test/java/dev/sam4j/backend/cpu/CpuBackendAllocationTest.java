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
 * values are heap objects, so the test repeats rounds of calls until a round is allocation-free (a
 * small slack covers JIT transitions) and fails only if none is. The failure this guards against is a
 * vector value that C2 cannot keep in registers (e.g. one passed through {@code ?:}), which allocates
 * on every call forever and runs the slow fallback path.
 */
class CpuBackendAllocationTest {

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
    void steadyStateStepAllocatesNothing() {
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
            Runnable step = () -> {
                b.gemm(false, true, m, n, k, 1f, a, k, bb, k, 0f, c, n);
                b.gemm(true, false, m, n, k, 0.5f, a, m, bb, n, 1f, c, n);
                b.gemm(false, false, m, n, k, 1f, a, k, bb, n, 0.25f, c, n);
                b.convForward(g, batch, x, w, bias, y, ws);
                b.convBackwardData(g, batch, y, w, dx, ws);
                b.convBackwardFilter(g, batch, x, y, dw, db, ws);
                b.maxPoolForward(pg, batch, y, py);
                b.maxPoolBackward(pg, batch, y, py, py, pdx);
                b.batchNormForwardTraining(batch, 8, 100, y, gamma, beta, y, rm, rv, 0.1, 1e-5, true, sm, si);
                b.batchNormBackward(batch, 8, 100, y, y, gamma, sm, si, bdx, dg, dbeta);
                b.reluForward(v1, v3, len);
                b.reluBackward(v1, v2, v3, len);
                b.add(v1, v2, v3, len);
                b.sumOfSquares(v1, len);
                b.sgdUpdate(v3, v2, v1, len, 0f, 0.9f, 0f, true);
                b.sgdUpdate(v3, v2, v1, len, 0f, 0.9f, 0f, false);
                b.sumRows(v1, v3, 100, 1000);
                b.addRowBias(v3, v1, 100, 1000);
                b.globalAvgPoolForward(batch, 8, 100, y, v3);
                b.globalAvgPoolBackward(batch, 8, 100, v3, bdx);
                // the SAM-family passes
                b.dot(v1, v2, len);
                b.asamNormSquared(v1, v2, len, 0.01);
                b.axpby(-0.5, v1, 1.0, v2, v3, len);
                b.samPerturb(v3, v2, s1, s2, len, 1e-3);
                b.asamPerturb(v3, v2, s1, s2, len, 1e-3, 0.01);
                b.restoreSgdUpdate(v3, s1, v2, v1, len, 0f, 0.9f, 0f, false);
                b.restoreSgdUpdate(v3, s1, v2, v1, len, 0f, 0.9f, 0f, true);
                b.sgdUpdateWithDirection(v3, v2, s2, 0.5, v1, len, 0f, 0.9f, 0f, false);
                b.sgdUpdateWithDirection(v3, v2, s2, 0.5, v1, len, 0f, 0.9f, 0f, true);
            };
            long[] ids = backendThreads();
            long last = -1;
            for (int round = 0; round < 60; round++) {
                long before = allocated(ids);
                for (int i = 0; i < 50; i++) step.run();
                last = allocated(ids) - before;
                if (last < 50 * 64) return; // < 64 bytes per step on average: JIT noise, not per-call boxing
            }
            fail("the step still allocates " + last / 50 + " bytes per call after warm-up");
        }
    }
}
