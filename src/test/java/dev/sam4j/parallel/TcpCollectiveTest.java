package dev.sam4j.parallel;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/** The TCP collective on loopback (ranks as threads here; real processes in the CLI's launch test), and the launchers' variables. */
class TcpCollectiveTest {

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) { return s.getLocalPort(); }
    }

    static <T> List<Future<T>> onRanks(int world, int port, long timeoutMs, BiFunction<Integer, TcpCollective, T> body, ExecutorService ex) {
        List<Future<T>> out = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            int rank = r;
            out.add(ex.submit(() -> {
                try (TcpCollective c = TcpCollective.join(new LaunchEnv(rank, world, rank, "127.0.0.1", port, "test"), timeoutMs, 0)) {
                    return body.apply(rank, c);
                }
            }));
        }
        return out;
    }

    /** The same bits as the in-process group's (the same arithmetic on rank 0), on every rank, and the same shared id. */
    @Test
    void reductionsMatchTheInProcessGroupBitForBit() throws Exception {
        int world = 3, n = 777;
        List<float[]> inProcess = Ranks.run(world, (rank, c) -> reduce(rank, c, n));
        ExecutorService ex = Executors.newFixedThreadPool(world);
        try {
            List<Future<Object[]>> tcp = onRanks(world, freePort(), 20_000,
                    (rank, c) -> new Object[] {reduce(rank, c, n), c.sharedId()}, ex);
            byte[] id0 = (byte[]) tcp.get(0).get()[1];
            assertEquals(TcpCollective.SHARED_ID_BYTES, id0.length);
            for (int r = 0; r < world; r++) {
                Object[] got = tcp.get(r).get();
                assertArrayEquals(inProcess.get(r), (float[]) got[0], "rank " + r);
                assertArrayEquals(id0, (byte[]) got[1], "shared id of rank " + r);
            }
            assertFalse(Arrays.equals(new byte[TcpCollective.SHARED_ID_BYTES], id0));
        } finally {
            ex.shutdownNow();
        }
    }

    /** allReduce SUM and MEAN of a buffer, doubles, a broadcast from the last rank and a barrier, packed into one array. */
    static float[] reduce(int rank, Collective c, int n) {
        try (Backend b = new ReferenceBackend()) {
            Buffer x = b.allocate(n), y = b.allocate(n);
            float[] v = InProcessGroupTest.values(rank, n, 5);
            b.upload(v, 0, x, n);
            b.upload(v, 0, y, n);
            c.allReduce(b, x, n, Collective.Op.SUM);
            c.allReduce(b, y, n - 1, Collective.Op.MEAN);
            double[] d = {rank * 0.1, 1.0 / (rank + 1)};
            c.allReduce(d, Collective.Op.MEAN);
            c.barrier();
            Buffer z = b.allocate(4);
            b.upload(new float[] {rank, rank, rank, rank}, 0, z, 4);
            c.broadcast(b, z, 4, c.worldSize() - 1);
            float[] out = new float[2 * n + 2 + 4];
            b.download(x, out, 0, n);
            b.download(y, out, n, n);
            out[2 * n] = (float) d[0];
            out[2 * n + 1] = (float) d[1];
            b.download(z, out, 2 * n + 2, 4);
            return out;
        }
    }

    /** Rank 0's own id (as NCCL's ncclGetUniqueId would make it) reaches every rank; a wrong-sized one ends every rank naming rank 0. */
    @Test
    void rankZeroHandsOutTheIdItIsGiven() throws Exception {
        byte[] id = new byte[TcpCollective.SHARED_ID_BYTES];
        for (int i = 0; i < id.length; i++) id[i] = (byte) (i * 7 + 1);
        int port = freePort();
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            List<Future<byte[]>> got = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                got.add(ex.submit(() -> {
                    try (TcpCollective c = TcpCollective.join(new LaunchEnv(rank, 2, rank, "127.0.0.1", port, "test"), 20_000, 0,
                            () -> { if (rank != 0) throw new AssertionError("only rank 0 makes the id"); return id; })) {
                        return c.sharedId();
                    }
                }));
            }
            assertArrayEquals(id, got.get(0).get());
            assertArrayEquals(id, got.get(1).get());
            int port2 = freePort();
            List<Future<String>> bad = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                bad.add(ex.submit(() -> {
                    try {
                        TcpCollective.join(new LaunchEnv(rank, 2, rank, "127.0.0.1", port2, "test"), 20_000, 0, () -> new byte[5]).close();
                        return "joined";
                    } catch (CollectiveException e) {
                        return e.failedRank() + ": " + e.getMessage();
                    }
                }));
            }
            String expected = "0: rendezvous at 127.0.0.1:" + port2 + ": rank 0 failed: the shared id must be 128 bytes, got 5";
            assertEquals(expected, bad.get(0).get());
            assertEquals(expected, bad.get(1).get());
        } finally {
            ex.shutdownNow();
        }
    }

    /**
     * {@link TcpCollective#poll} (what an NCCL wait watches): a frame a faster peer already sent for the next collective
     * is left for it, and a peer whose link closes is named at once; on rank 0 and on another rank.
     */
    @Test
    void pollLeavesAFastPeersFrameAndNamesAClosedLink() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            java.util.concurrent.CountDownLatch polled = new java.util.concurrent.CountDownLatch(1);
            List<Future<Object>> got = onRanks(2, freePort(), 20_000, (rank, c) -> {
                double[] v = {rank + 0.5};
                if (rank == 1) {
                    c.allReduce(v, Collective.Op.SUM);   // sent before rank 0 polls
                    try {
                        polled.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return v[0];   // then closes its link (the try-with-resources of onRanks): as if it died
                }
                sleep(150);
                for (int i = 0; i < 4; i++) {
                    c.poll();   // the frame of rank 1 is there, and the link is open
                    sleep(60);  // past the 50 ms between looks at a closed link
                }
                c.allReduce(v, Collective.Op.SUM);
                polled.countDown();
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (System.nanoTime() < deadline) {
                    try {
                        c.poll();
                    } catch (CollectiveException e) {
                        return new Object[] {v[0], e};
                    }
                    sleep(10);
                }
                return "no exception";
            }, ex);
            assertEquals(2.0, got.get(1).get());
            Object[] zero = (Object[]) got.get(0).get();
            assertEquals(2.0, zero[0]);
            CollectiveException e = (CollectiveException) zero[1];
            assertEquals(1, e.failedRank());
            assertTrue(e.getMessage().startsWith("rank 1 died (its connection closed"), e.getMessage());
        } finally {
            ex.shutdownNow();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aPortInUseIsOneClearLine() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            CollectiveException e = assertThrows(CollectiveException.class,
                    () -> TcpCollective.join(new LaunchEnv(0, 2, 0, "127.0.0.1", port, "test"), 300, 0));
            assertTrue(e.getMessage().startsWith("rendezvous at 127.0.0.1:" + port + ": rank 0 cannot listen there ("), e.getMessage());
            assertTrue(e.getMessage().endsWith("); give a free port in SAM4J_MASTER_PORT (the same on every rank)"), e.getMessage());
        }
    }

    @Test
    void aRankThatNeverArrivesIsNamed() throws Exception {
        int port = freePort();
        CollectiveException e = assertThrows(CollectiveException.class,
                () -> TcpCollective.join(new LaunchEnv(0, 3, 0, "127.0.0.1", port, "test"), 300, 0));
        assertEquals("rendezvous at 127.0.0.1:" + port + ": ranks 1, 2 did not arrive within 300 ms", e.getMessage());
        assertEquals(1, e.failedRank());
        CollectiveException g = assertThrows(CollectiveException.class,
                () -> TcpCollective.join(new LaunchEnv(1, 2, 0, "127.0.0.1", freePort(), "test"), 300, 0));
        assertTrue(g.getMessage().endsWith(": rank 0 did not arrive within 300 ms (nothing listens there)"), g.getMessage());
        assertEquals(0, g.failedRank());
    }

    /** A rank that fails (here: reports it) ends every other rank's pending collective with its name, through rank 0. */
    @Test
    void aFailedRankEndsTheOthers() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(3);
        try {
            List<Future<String>> got = onRanks(3, freePort(), 20_000, (rank, c) -> {
                c.barrier();
                if (rank == 2) {
                    c.abort(new IllegalStateException("disk full"));
                    return "aborted";
                }
                try {
                    c.allReduce(new double[] {1}, Collective.Op.SUM);
                    return "no failure seen";
                } catch (CollectiveException e) {
                    return e.failedRank() + ": " + e.getMessage();
                }
            }, ex);
            assertEquals("2: rank 2 failed: disk full", got.get(0).get());
            assertEquals("2: rank 2 failed: disk full", got.get(1).get());
        } finally {
            ex.shutdownNow();
        }
    }

    /** Rank 0 gone without a word (its sockets closed, as when its process dies): the others name it. */
    @Test
    void aVanishedRankZeroIsNamed() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(3);
        try {
            List<Future<String>> got = onRanks(3, freePort(), 20_000, (rank, c) -> {
                c.barrier();
                if (rank == 0) {
                    c.close();
                    return "closed";
                }
                try {
                    c.allReduce(new double[] {1}, Collective.Op.SUM);
                    return "no failure seen";
                } catch (CollectiveException e) {
                    return e.failedRank() + ": " + e.getMessage();
                }
            }, ex);
            assertEquals("0: rank 0 died (its connection closed)", got.get(1).get());
            assertEquals("0: rank 0 died (its connection closed)", got.get(2).get());
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void launchersVariables() {
        assertNull(LaunchEnv.from(Map.of("HOME", "/")));
        LaunchEnv t = LaunchEnv.from(Map.of("RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "1", "MASTER_ADDR", "node7", "MASTER_PORT", "29500"));
        assertEquals(new LaunchEnv(3, 4, 1, "node7", 29500, "torchrun (RANK, WORLD_SIZE)"), t);
        LaunchEnv s = LaunchEnv.from(Map.of("SLURM_PROCID", "5", "SLURM_NTASKS", "8", "SLURM_LOCALID", "1", "MASTER_ADDR", "n1", "MASTER_PORT", "1234"));
        assertEquals(new LaunchEnv(5, 8, 1, "n1", 1234, "Slurm (SLURM_PROCID, SLURM_NTASKS)"), s);
        assertNull(LaunchEnv.from(Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "1")), "a one-task allocation is a process of its own");
        Map<String, String> agent = Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "29500",
                "TORCHELASTIC_USE_AGENT_STORE", "True");
        assertEquals(29501, LaunchEnv.from(agent).masterPort(), "torchrun's agent serves its store on MASTER_PORT");
        java.util.HashMap<String, String> own = new java.util.HashMap<>(agent);
        own.put("SAM4J_MASTER_PORT", "40000");
        assertEquals(40000, LaunchEnv.from(own).masterPort());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LaunchEnv.from(Map.of("SLURM_PROCID", "0", "SLURM_NTASKS", "2", "MASTER_ADDR", "n1")));
        assertEquals("Slurm (SLURM_PROCID, SLURM_NTASKS): MASTER_PORT is not set (a free TCP port on rank 0's host)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LaunchEnv.from(Map.of("RANK", "x", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1")));
        assertEquals("RANK=x: not a number", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LaunchEnv.from(Map.of("RANK", "2", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1")));
        assertEquals("torchrun (RANK, WORLD_SIZE): rank 2 is not in [0, 2)", e.getMessage());
    }
}
