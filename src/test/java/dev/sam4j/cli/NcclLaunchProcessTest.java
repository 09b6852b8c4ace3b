package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.Nccl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real processes on CUDA over NCCL: {@code sam4j launch --nproc-per-node 2 train --device cuda} runs one process per
 * device (cuda:LOCAL_RANK) and ends with the same weights on both; a rank killed mid-run ends the other with one line
 * naming it. In the cuda-stand-in run the children inherit {@code LD_LIBRARY_PATH}, so they train on the CUDA stand-ins
 * and exchange gradients through the NCCL stand-in's shared memory; elsewhere they skip unless two devices and NCCL
 * are there.
 */
@Tag("gpu")
class NcclLaunchProcessTest {

    private static void requireTwoDevicesAndNccl() {
        var cuda = CudaTestSupport.requireCuda();
        assumeTrue(cuda.deviceCount() >= 2, "needs two CUDA devices, found " + cuda.deviceCount());
        var a = Nccl.probe();
        if (cuda.standIn()) assertTrue(a.available(), "the stand-in run must load the NCCL stand-in: " + a.reason());
        assumeTrue(a.available(), a.reason());
    }

    private static List<String> java() {
        List<String> cmd = LaunchProcessTest.java();
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) cmd.add(1, "-Dorg.bytedeco.javacpp.cachedir=" + cache);   // JavaCPP's cache, as this JVM's
        cmd.add(1, "--sun-misc-unsafe-memory-access=allow");
        return cmd;
    }

    private static List<String> trainArgs(Path out, int epochs) { return trainArgs(out, epochs, "mlp"); }

    private static List<String> trainArgs(Path out, int epochs, String model) {
        return List.of("train", "--data", "synthetic:1,16,16:4:128:32", "--model", model, "--epochs", Integer.toString(epochs),
                "--batch-size", "16", "--eval-batch-size", "32", "--device", "cuda", "--optimizer", "aesam", "--out", out.toString());
    }

    /** mlp; and cnn, whose BatchNorm running statistics rank 0 broadcasts (ncclBroadcast) before each evaluation. */
    @ParameterizedTest
    @ValueSource(strings = {"mlp", "cnn"})
    void launchTwoCudaRanksEndsWithIdenticalWeightsOnBoth(String model, @TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        Path log = dir.resolve("launch.log"), out = dir.resolve("run");
        List<String> cmd = java();
        cmd.addAll(List.of("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(LaunchProcessTest.freePort())));
        cmd.addAll(trainArgs(out, 2, model));
        int code = LaunchProcessTest.await(LaunchProcessTest.start(cmd, log, Map.of()), log, 300);
        String text = Files.readString(log);
        assertEquals(0, code, text);
        Matcher m = LaunchProcessTest.DIGEST.matcher(text);
        List<String> digests = new ArrayList<>();
        while (m.find()) {
            assertEquals("2", m.group(2));
            digests.add(m.group(3));
        }
        assertEquals(2, digests.size(), text);
        assertEquals(digests.get(0), digests.get(1), "the two processes' weights");
        assertTrue(text.contains("2 data-parallel ranks in 2 processes on CUDA over NCCL"), text);
        assertTrue(text.contains("CUDA runs the host-driven step"), text);
        assertTrue(Files.exists(out.resolve("checkpoint.safetensors")));
    }

    /**
     * Without {@code libnccl.so.2} on the library path (the CUDA stand-ins alone, linked into a folder of their own),
     * each rank of a CUDA job ends at once with one line saying NCCL is missing and why, instead of hanging.
     */
    @Test
    void withoutNcclACudaJobEndsSayingSo(@TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        CudaTestSupport.requireStandIn("hides libnccl.so.2 only with the stand-ins: a GPU host may have NCCL in the system library path");
        Path libs = Files.createDirectories(dir.resolve("no-nccl"));
        int linked = 0;
        for (String folder : System.getenv().getOrDefault("LD_LIBRARY_PATH", "").split(":")) {
            if (folder.isEmpty() || !Files.isDirectory(Path.of(folder))) continue;
            try (var files = Files.list(Path.of(folder))) {
                for (Path f : files.filter(f -> f.getFileName().toString().contains(".so.")).toList()) {
                    Path link = libs.resolve(f.getFileName());
                    if (f.getFileName().toString().startsWith("libnccl") || Files.exists(link)) continue;
                    Files.createSymbolicLink(link, f.toAbsolutePath());
                    linked++;
                }
            }
        }
        assumeTrue(linked > 0, "the CUDA libraries are not found through LD_LIBRARY_PATH here");
        Path log = dir.resolve("launch.log");
        List<String> cmd = java();
        cmd.addAll(List.of("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(LaunchProcessTest.freePort())));
        cmd.addAll(trainArgs(dir.resolve("run"), 1));
        int code = LaunchProcessTest.await(LaunchProcessTest.start(cmd, log, Map.of("LD_LIBRARY_PATH", libs.toString())), log, 120);
        String text = Files.readString(log);
        assertNotEquals(0, code, text);
        List<String> errors = text.lines().filter(l -> l.startsWith("sam4j: error:")).toList();
        assertFalse(errors.isEmpty(), text);
        for (String e : errors) {
            assertTrue(e.matches("sam4j: error: rank [01]: --device cuda with 2 ranks needs NCCL: libnccl\\.so\\.2 cannot be loaded .*"), e);
        }
    }

    /** Two ranks started as torchrun would; rank 1 is killed once training runs: rank 0 ends with one line naming it. */
    @Test
    void aKilledCudaRankEndsTheOtherNamingIt(@TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        int port = LaunchProcessTest.freePort();
        Path out = dir.resolve("run");
        Process[] ps = new Process[2];
        Path[] logs = new Path[2];
        try {
            for (int r = 0; r < 2; r++) {
                logs[r] = dir.resolve("rank" + r + ".log");
                List<String> cmd = java();
                cmd.addAll(trainArgs(out, 100000));
                ps[r] = LaunchProcessTest.start(cmd, logs[r], Map.of("RANK", Integer.toString(r), "WORLD_SIZE", "2",
                        "LOCAL_RANK", Integer.toString(r), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port)));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            Path steps = out.resolve("steps.jsonl");
            while (!Files.exists(steps) || Files.size(steps) == 0) {
                for (int r = 0; r < 2; r++) if (!ps[r].isAlive()) fail("rank " + r + " ended early:\n" + Files.readString(logs[r]));
                if (System.nanoTime() > deadline) fail("no step after 180 s:\n" + Files.readString(logs[0]));
                Thread.sleep(20);
            }
            ps[1].destroyForcibly();   // SIGKILL: no goodbye, the NCCL peer simply gone
            int code = LaunchProcessTest.await(ps[0], logs[0], 60);
            String text = Files.readString(logs[0]);
            assertEquals(1, code, text);
            List<String> errors = text.lines().filter(l -> l.startsWith("sam4j: error:")).toList();
            assertEquals(1, errors.size(), text);
            assertTrue(errors.get(0).startsWith("sam4j: error: rank 1 died (its connection closed"), errors.get(0));
        } finally {
            for (Process p : ps) if (p != null) p.destroyForcibly();
        }
    }
}
