package dev.sam4j.parallel;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.Nccl;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The NCCL collective, two ranks as two threads with a device each (cuda:0, cuda:1), joined over loopback TCP. Runs
 * against the NCCL stand-in in the cuda-stand-in run, and on a machine with two GPUs and NCCL; skips (saying why) where
 * NCCL does not load. With two ranks a sum is {@code a + b} in either order, so the expected bits hold on a real NCCL too.
 */
@Tag("gpu")
class NcclCollectiveTest {

    private static void requireTwoDevicesAndNccl() {
        CudaTestSupport.requireNccl(2);
    }

    private static <T> List<T> onTwoRanks(BiFunction<Integer, NcclCollective, T> body) throws Exception {
        int port = TcpCollectiveTest.freePort();
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                futures.add(ex.submit(() -> {
                    try (TcpCollective tcp = TcpCollective.join(new LaunchEnv(rank, 2, rank, "127.0.0.1", port, "test"), 30_000, 0, Nccl::uniqueId);
                         CudaBackend be = new CudaBackend(rank, Precision.FP32, false);
                         NcclCollective c = NcclCollective.join(tcp, be, 0)) {
                        return body.apply(rank, c);
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        } finally {
            ex.shutdownNow();
        }
    }

    static float value(int rank, int i) { return (float) Math.sin(0.37 * i + rank) * (1 + rank) / 3f; }

    @Test
    void sumMeanAndBroadcastGiveTheSameBitsOnBothRanks() throws Exception {
        requireTwoDevicesAndNccl();
        int n = 300_001;   // more than one round of the stand-in's 2^18-float slots, and odd
        List<float[][]> got = onTwoRanks((rank, c) -> {
            CudaBackend be = (CudaBackend) backendOf(c);
            float[] mine = new float[n];
            for (int i = 0; i < n; i++) mine[i] = value(rank, i);
            Buffer x = be.allocate(n + 5);
            // Sizes the backend's pinned staging now: growing it later frees pinned memory, which waits for every
            // device, and with two ranks in one process that would wait for the other rank's NCCL kernel, which
            // waits for this rank (a real hazard of several GPUs per process; sam4j runs one process per GPU).
            CudaTestSupport.download(be, x);
            be.upload(mine, 0, x, n);
            c.allReduce(be, x, n, Collective.Op.SUM);
            float[] sum = CudaTestSupport.download(be, x);
            be.upload(mine, 0, x, n);
            c.allReduce(be, x, n, Collective.Op.MEAN);
            float[] mean = CudaTestSupport.download(be, x);
            be.upload(mine, 0, x, n);
            c.broadcast(be, x, n, 1);
            float[] bcast = CudaTestSupport.download(be, x);
            double[] d = {rank == 0 ? 0.1 : 0.2, rank};
            c.allReduce(d, Collective.Op.SUM);
            c.barrier();
            return new float[][] {sum, mean, bcast, {(float) d[0], (float) d[1]}};
        });
        for (int r = 0; r < 2; r++) {
            float[][] g = got.get(r);
            for (int i = 0; i < n; i++) {
                float s = value(0, i) + value(1, i);
                assertEquals(Float.floatToIntBits(s), Float.floatToIntBits(g[0][i]), "sum, rank " + r + ", element " + i);
                assertEquals(Float.floatToIntBits(s * 0.5f), Float.floatToIntBits(g[1][i]), "mean, rank " + r + ", element " + i);
                assertEquals(Float.floatToIntBits(value(1, i)), Float.floatToIntBits(g[2][i]), "broadcast, rank " + r + ", element " + i);
            }
            for (int i = n; i < n + 5; i++) assertEquals(0f, g[0][i], "beyond n is left alone");
            assertEquals((float) (0.1 + 0.2), g[3][0]);
            assertEquals(1f, g[3][1]);
        }
    }

    /** Rank 1 aborts while rank 0 waits in an all-reduce: rank 0 ends within seconds, the exception naming rank 1. */
    @Test
    void aRankThatAbortsEndsTheOtherNamingIt() throws Exception {
        requireTwoDevicesAndNccl();
        long start = System.nanoTime();
        List<Object> got = onTwoRanks((rank, c) -> {
            CudaBackend be = (CudaBackend) backendOf(c);
            Buffer x = be.allocate(1000);
            c.allReduce(be, x, 1000, Collective.Op.SUM);   // both take part once: the communicator works
            if (rank == 1) {
                c.abort(new IllegalStateException("injected failure"));
                return "aborted";
            }
            try {
                c.allReduce(be, x, 1000, Collective.Op.SUM);
                return "no exception";
            } catch (CollectiveException e) {
                return e;
            }
        });
        assertEquals("aborted", got.get(1));
        CollectiveException e = assertInstanceOf(CollectiveException.class, got.get(0));
        assertEquals(1, e.failedRank(), e.getMessage());
        assertTrue(e.getMessage().startsWith("rank 1 failed: injected failure"), e.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(60), "ended promptly");
    }

    private static dev.sam4j.backend.Backend backendOf(NcclCollective c) { return c.backend(); }
}
