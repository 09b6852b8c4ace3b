package dev.sam4j.parallel;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The in-process collective against a plain rank-order sum, every rank's result bit for bit. */
class InProcessGroupTest {

    static float[] values(int rank, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed * 31 + rank);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 4)));
        return v;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void allReduceIsTheRankOrderSumOnEveryRankBitForBit(int world) {
        int n = 1013, region = 1000;   // an odd region of a longer buffer: the tail must stay untouched
        for (Collective.Op op : Collective.Op.values()) {
            for (long seed = 1; seed <= 3; seed++) {
                long s = seed;
                List<float[]> got = Ranks.run(world, (rank, c) -> {
                    try (Backend b = rank % 2 == 0 ? new ReferenceBackend() : new CpuBackend(1)) {
                        Buffer x = b.allocate(n);
                        b.upload(values(rank, n, s), 0, x, n);
                        c.allReduce(b, x, region, op);
                        float[] out = new float[n];
                        b.download(x, out, 0, n);
                        return out;
                    }
                });
                for (int i = 0; i < n; i++) {
                    float expected;
                    if (i < region) {
                        double sum = 0;
                        for (int r = 0; r < world; r++) sum += values(r, n, s)[i];
                        expected = (float) (op == Collective.Op.MEAN ? sum / world : sum);
                    } else {
                        expected = values(0, n, s)[i];
                    }
                    for (int r = 0; r < world; r++) {
                        float e = i < region ? expected : values(r, n, s)[i];
                        assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(got.get(r)[i]),
                                op + " world " + world + " rank " + r + " element " + i);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void doublesBroadcastAndBarrier(int world) {
        List<double[]> got = Ranks.run(world, (rank, c) -> {
            double[] v = {rank + 0.1, 1e16, -rank * 1e-7};
            c.allReduce(v, Collective.Op.SUM);
            double[] m = {rank};
            c.allReduce(m, Collective.Op.MEAN);
            c.barrier();
            try (Backend b = new ReferenceBackend()) {
                Buffer x = b.allocate(4);
                b.write(new double[] {rank, rank * 2, rank * 3, 7}, x);
                c.broadcast(b, x, 3, world - 1);
                double[] bx = b.read(x);
                return new double[] {v[0], v[1], v[2], m[0], bx[0], bx[1], bx[2], bx[3]};
            }
        });
        double s0 = 0, s1 = 0, s2 = 0, mean = 0;
        for (int r = 0; r < world; r++) { s0 += r + 0.1; s1 += 1e16; s2 += -r * 1e-7; mean += r; }
        mean /= world;
        for (int r = 0; r < world; r++) {
            double[] g = got.get(r);
            assertEquals(s0, g[0], 0.0);
            assertEquals(s1, g[1], 0.0);
            assertEquals(s2, g[2], 0.0);
            assertEquals(mean, g[3], 0.0);
            assertArrayEquals(new double[] {world - 1, 2 * (world - 1), 3 * (world - 1), 7}, new double[] {g[4], g[5], g[6], g[7]}, 0.0);
        }
    }

    /** A failing rank ends the others' pending collective with one message naming it: no rank waits for a dead one. */
    @Test
    void aFailedRankEndsEveryOtherRanksCollective() {
        InProcessGroup g = new InProcessGroup(3);
        CollectiveException[] seen = new CollectiveException[3];
        Thread[] ts = new Thread[3];
        for (int r = 0; r < 3; r++) {
            int rank = r;
            Collective c = g.member(r);
            ts[r] = new Thread(() -> {
                try {
                    c.barrier();   // all three pass
                    if (rank == 1) {
                        c.abort(new IllegalStateException("out of memory on purpose"));
                        return;
                    }
                    c.allReduce(new double[] {1}, Collective.Op.SUM);
                } catch (CollectiveException e) {
                    seen[rank] = e;
                }
            });
            ts[r].start();
        }
        for (Thread t : ts) {
            try { t.join(); } catch (InterruptedException e) { throw new IllegalStateException(e); }
        }
        for (int r : new int[] {0, 2}) {
            assertNotNull(seen[r], "rank " + r + " must see the abort");
            assertEquals(1, seen[r].failedRank());
            assertEquals("rank 1 failed: out of memory on purpose", seen[r].getMessage());
        }
        // and a later call fails at once too
        assertThrows(CollectiveException.class, () -> g.member(0).barrier());
    }

    @Test
    void singleRankIsTheIdentity() {
        try (Backend b = new ReferenceBackend()) {
            Buffer x = b.allocate(3);
            b.write(new double[] {1.5, -2, 3}, x);
            SingleRank.INSTANCE.allReduce(b, x, 3, Collective.Op.MEAN);
            SingleRank.INSTANCE.broadcast(b, x, 3, 0);
            assertArrayEquals(new double[] {1.5, -2, 3}, b.read(x), 0.0);
            double[] v = {0.1};
            SingleRank.INSTANCE.allReduce(v, Collective.Op.SUM);
            assertEquals(0.1, v[0], 0.0);
            assertEquals(1, SingleRank.INSTANCE.worldSize());
            assertThrows(IllegalArgumentException.class, () -> SingleRank.INSTANCE.broadcast(b, x, 3, 1));
        }
    }
}
