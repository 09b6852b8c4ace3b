package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.train.LocalRanks;
import dev.sam4j.train.TrainConfig;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes on loopback: {@code sam4j launch --nproc-per-node 2 train --device cpu} ends with the same weights on
 * both ranks, the same as two ranks in one process; a rank killed (SIGKILL) mid-run ends every other rank with one line
 * naming it; a rank that never arrives ends rank 0 after the rendezvous timeout, naming it. Children are ended with
 * SIGKILL at the end (a background job may ignore SIGINT).
 */
class LaunchProcessTest {
    static final Pattern DIGEST = Pattern.compile("rank (\\d+) of (\\d+): final weights digest ([0-9a-f]{16})");

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) { return s.getLocalPort(); }
    }

    static List<String> java() {
        return new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx384m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    }

    static List<String> trainArgs(Path out, int epochs, int batch) {
        return List.of("train", "--data", "synthetic:1,8,8:4:320:32", "--model", "mlp", "--epochs", Integer.toString(epochs),
                "--batch-size", Integer.toString(batch), "--eval-batch-size", "32", "--device", "cpu", "--threads", "1", "--optimizer", "aesam",
                "--out", out.toString());
    }

    static Process start(List<String> cmd, Path log, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    static int await(Process p, Path log, int seconds) throws Exception {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            fail("no exit after " + seconds + " s:\n" + Files.readString(log));
        }
        return p.exitValue();
    }

    @Test
    void launchTwoRanksEndsWithIdenticalWeightsOnBoth(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("launch.log"), out = dir.resolve("run");
        List<String> cmd = java();
        cmd.addAll(List.of("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(freePort())));
        cmd.addAll(trainArgs(out, 2, 16));
        Process p = start(cmd, log, Map.of());
        int code = await(p, log, 240);
        String text = Files.readString(log);
        assertEquals(0, code, text);
        Matcher m = DIGEST.matcher(text);
        List<String> digests = new ArrayList<>();
        while (m.find()) {
            assertEquals("2", m.group(2));
            digests.add(m.group(3));
        }
        assertEquals(2, digests.size(), text);
        assertEquals(digests.get(0), digests.get(1), "the two processes' weights");
        assertTrue(text.contains("2 data-parallel ranks in 2 processes over TCP"), text);
        assertTrue(Files.exists(out.resolve("checkpoint.safetensors")));
        // the same bits as two ranks in one process: the same reductions, in the same order
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:4:320:32").model("mlp").epochs(2).batchSize(16).evalBatchSize(32)
                .device("cpu").threads(1).optimizer("aesam").ranks(2).build();
        try (LocalRanks ranks = new LocalRanks(cfg, null)) {
            ranks.run();
            assertEquals(TrainCommand.digest(ranks.rank(0).model().downloadParams()), digests.get(0));
        }
    }

    /** Three ranks; rank 1 is killed once training runs: ranks 0 and 2 end on their own, each with one line naming rank 1. */
    @Test
    void aKilledRankEndsEveryOtherRankNamingIt(@TempDir Path dir) throws Exception {
        int port = freePort();
        Path out = dir.resolve("run");
        Process[] ps = new Process[3];
        Path[] logs = new Path[3];
        try {
            for (int r = 0; r < 3; r++) {
                logs[r] = dir.resolve("rank" + r + ".log");
                List<String> cmd = java();
                cmd.addAll(trainArgs(out, 100000, 15));   // a global batch that divides by 3
                ps[r] = start(cmd, logs[r], Map.of("RANK", Integer.toString(r), "WORLD_SIZE", "3", "LOCAL_RANK", Integer.toString(r),
                        "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port)));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            Path steps = out.resolve("steps.jsonl");
            while (!Files.exists(steps) || Files.size(steps) == 0) {
                for (int r = 0; r < 3; r++) if (!ps[r].isAlive()) fail("rank " + r + " ended early:\n" + Files.readString(logs[r]));
                if (System.nanoTime() > deadline) fail("no step after 120 s:\n" + Files.readString(logs[0]));
                Thread.sleep(20);
            }
            ps[1].destroyForcibly();   // SIGKILL: no goodbye
            for (int r : new int[] {0, 2}) {
                int code = await(ps[r], logs[r], 60);
                String text = Files.readString(logs[r]);
                assertEquals(1, code, text);
                List<String> errors = text.lines().filter(l -> l.startsWith("sam4j: error:")).toList();
                assertEquals(1, errors.size(), text);
                assertTrue(errors.get(0).startsWith("sam4j: error: rank 1 died (its connection closed"), errors.get(0));
            }
        } finally {
            for (Process p : ps) if (p != null) p.destroyForcibly();
        }
    }

    @Test
    void aRankThatNeverArrivesEndsRankZeroNamingIt(@TempDir Path dir) throws Exception {
        int port = freePort();
        Path log = dir.resolve("rank0.log");
        List<String> cmd = java();
        cmd.addAll(trainArgs(dir.resolve("run"), 1, 16));
        Process p = start(cmd, log, Map.of("RANK", "0", "WORLD_SIZE", "2",
                "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port), "SAM4J_RENDEZVOUS_TIMEOUT_S", "1"));
        int code = await(p, log, 60);
        String text = Files.readString(log);
        assertEquals(1, code, text);
        assertTrue(text.contains("sam4j: error: rendezvous at 127.0.0.1:" + port + ": rank 1 did not arrive within 1 s"), text);
    }
}
