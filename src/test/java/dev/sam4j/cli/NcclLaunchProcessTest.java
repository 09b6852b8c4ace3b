package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.cuda.CudaTestSupport;
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
 * device (cuda:LOCAL_RANK), on the CUDA graph step with local perturbation, and ends with the same weights and SAM
 * decisions on both, equal to the host-driven NCCL step's; a rank killed mid-run (its peer inside launched step graphs)
 * ends the other with one line naming it. In the cuda-stand-in run the children inherit {@code LD_LIBRARY_PATH}, so they train on the CUDA stand-ins
 * and exchange gradients through the NCCL stand-in's shared memory; elsewhere they skip unless two devices and NCCL
 * are there.
 */
@Tag("gpu")
class NcclLaunchProcessTest {

    private static void requireTwoDevicesAndNccl() {
        CudaTestSupport.requireNccl(2);
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

    /** One launch's output and each rank's final line (weights digest, SAM decisions) and step description. */
    private record Launch(String text, List<String> finals, List<String> steps) {}

    private static final java.util.regex.Pattern FINAL = java.util.regex.Pattern.compile(
            "rank (\\d) of 2: (final weights digest [0-9a-f]{16}, SAM decisions (\\d+) of (\\d+) steps .*)");
    private static final java.util.regex.Pattern STEP = java.util.regex.Pattern.compile("rank (\\d) of 2: step: (.*)");

    private static Launch launch(Path dir, String model, List<String> extra) throws Exception {
        Path log = dir.resolve("launch.log"), out = dir.resolve("run");
        Files.createDirectories(dir);
        List<String> cmd = java();
        cmd.addAll(List.of("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(LaunchProcessTest.freePort())));
        cmd.addAll(trainArgs(out, 2, model));
        cmd.addAll(extra);
        int code = LaunchProcessTest.await(LaunchProcessTest.start(cmd, log, Map.of()), log, 300);
        String text = Files.readString(log);
        assertEquals(0, code, text);
        assertTrue(Files.exists(out.resolve("checkpoint.safetensors")), text);
        String[] finals = new String[2], steps = new String[2];
        for (Matcher m = FINAL.matcher(text); m.find(); ) {
            finals[Integer.parseInt(m.group(1))] = m.group(2);
            long sam = Long.parseLong(m.group(3)), all = Long.parseLong(m.group(4));
            assertEquals(16, all, text);
            // Both kinds of step ran, so the decisions compared below decided something.
            assertTrue(sam > 0 && sam < all, "SAM steps " + sam + " of " + all + ":\n" + text);
        }
        for (Matcher m = STEP.matcher(text); m.find(); ) steps[Integer.parseInt(m.group(1))] = m.group(2);
        assertNotNull(finals[0], text);
        assertNotNull(finals[1], text);
        assertEquals(finals[0], finals[1], "the two processes' weights and SAM decisions");
        assertEquals(steps[0], steps[1], text);
        assertTrue(text.contains("2 data-parallel ranks in 2 processes on CUDA over NCCL"), text);
        return new Launch(text, List.of(finals), List.of(steps));
    }

    /**
     * The default, {@code --sam-perturbation local}: each rank runs the CUDA graph step with its collectives in the
     * graph (the stand-in refuses one inside the conditional node's body); both ranks end with the same weights and the
     * same SAM decisions, and exactly those of the host-driven NCCL step ({@code --cuda-step host}), bit for bit. mlp;
     * and cnn, whose BatchNorm running statistics rank 0 broadcasts (ncclBroadcast) before each evaluation.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mlp", "cnn"})
    void launchTwoCudaRanksOnTheGraphStepEndsWithIdenticalWeightsAndDecisionsOnBoth(String model, @TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        Launch graph = launch(dir.resolve("graph"), model, List.of());
        assertTrue(graph.steps().get(0).startsWith("CUDA step graph, SAM branch decided on the GPU (no host synchronisation in the step), on 2 "
                + "data-parallel ranks"), graph.steps().get(0));
        assertTrue(graph.steps().get(0).contains("--sam-perturbation local"), graph.steps().get(0));
        Launch host = launch(dir.resolve("host"), model, List.of("--cuda-step", "host"));
        assertTrue(host.steps().get(0).startsWith("host-driven step on 2 data-parallel ranks"), host.steps().get(0));
        assertEquals(host.finals().get(0), graph.finals().get(0), "the graph step against the host-driven NCCL step");
        // The same graph pieces launched one by one, the decision read back by the host (the collectives in pass 1's and
        // the update's graphs, none in the SAM branch's).
        Launch readback = launch(dir.resolve("readback"), model, List.of("--cuda-step", "readback"));
        assertTrue(readback.steps().get(0).startsWith("CUDA step graph, SAM decision read back by the host each step, on 2 "), readback.steps().get(0));
        assertEquals(graph.finals().get(0), readback.finals().get(0), "the graph step against its read-back variant");
    }

    private static final java.util.regex.Pattern DIGEST_AND_SAM = java.util.regex.Pattern.compile(
            "rank (\\d) of 2: final weights digest ([0-9a-f]{16}), SAM decisions (\\d+) of (\\d+) steps");

    /** Both ranks' (digest, SAM steps, steps), which must agree; from one log or the ranks' own. */
    private static long[] agreed(String text) {
        List<String> seen = new ArrayList<>();
        long[] out = null;
        for (Matcher m = DIGEST_AND_SAM.matcher(text); m.find(); ) {
            seen.add(m.group(2) + " " + m.group(3) + " " + m.group(4));
            out = new long[] {Long.parseUnsignedLong(m.group(2), 16), Long.parseLong(m.group(3)), Long.parseLong(m.group(4))};
        }
        assertEquals(2, seen.size(), text);
        assertEquals(seen.get(0), seen.get(1), "both ranks' weights and decisions:\n" + text);
        return out;
    }

    /**
     * Rank 0 asked to stop (SIGINT) on the graph step: the ranks agree at the next read-back of the step records (every
     * 2 steps here, with {@code --checkpoint-every 2}), both stop after the same step and exit 130, rank 0 having written
     * the graph step's checkpoint; the same launch with {@code --resume} ends with the weights of the run that never
     * stopped, bit for bit, and the SAM steps of the two parts add up to that run's.
     */
    @Test
    void aStoppedGraphStepRunResumesToTheUninterruptedRunsWeights(@TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        List<String> args = new ArrayList<>(trainArgs(dir.resolve("full"), 4));
        args.addAll(List.of("--checkpoint-every", "2"));
        Path fullLog = dir.resolve("full.log");
        List<String> cmd = java();
        cmd.addAll(List.of("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(LaunchProcessTest.freePort())));
        cmd.addAll(args);
        assertEquals(0, LaunchProcessTest.await(LaunchProcessTest.start(cmd, fullLog, Map.of()), fullLog, 300), Files.readString(fullLog));
        long[] full = agreed(Files.readString(fullLog));

        Path out = dir.resolve("stopped");
        List<String> stopArgs = new ArrayList<>(trainArgs(out, 4));
        stopArgs.addAll(List.of("--checkpoint-every", "2"));
        long[] first = ranks(dir, out, stopArgs, "first", true);
        assertTrue(first[2] > 0 && first[2] < full[2], "stopped after " + first[2] + " of " + full[2] + " steps");
        long[] rest = ranks(dir, out, List.of("train", "--resume", out.toString()), "resumed", false);
        assertEquals(full[2], first[2] + rest[2], "steps before and after the stop");
        assertEquals(full[1], first[1] + rest[1], "SAM steps before and after the stop");
        assertEquals(Long.toHexString(full[0]), Long.toHexString(rest[0]), "the resumed run's weights against the uninterrupted run's");
    }

    /** Two ranks as torchrun starts them (SIGINT at its default, as from a terminal); {@code stop}: rank 0 gets SIGINT after its first records. */
    private static long[] ranks(Path dir, Path out, List<String> args, String name, boolean stop) throws Exception {
        int port = LaunchProcessTest.freePort();
        Process[] ps = new Process[2];
        Path[] logs = new Path[2];
        try {
            for (int r = 0; r < 2; r++) {
                logs[r] = dir.resolve(name + "-rank" + r + ".log");
                List<String> cmd = new ArrayList<>(ChildProcessTest.sigintLauncher("DEFAULT"));
                cmd.addAll(java());
                cmd.addAll(args);
                ps[r] = LaunchProcessTest.start(cmd, logs[r], Map.of("RANK", Integer.toString(r), "WORLD_SIZE", "2",
                        "LOCAL_RANK", Integer.toString(r), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port)));
            }
            if (stop) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
                Path steps = out.resolve("steps.jsonl");
                while (!Files.exists(steps) || Files.size(steps) == 0) {
                    for (int r = 0; r < 2; r++) if (!ps[r].isAlive()) fail("rank " + r + " ended early:\n" + Files.readString(logs[r]));
                    if (System.nanoTime() > deadline) fail("no step after 180 s:\n" + Files.readString(logs[0]));
                    Thread.sleep(5);
                }
                assertEquals(0, new ProcessBuilder("kill", "-INT", Long.toString(ps[0].pid())).inheritIO().start().waitFor());
            }
            StringBuilder text = new StringBuilder();
            for (int r = 0; r < 2; r++) {
                int code = LaunchProcessTest.await(ps[r], logs[r], 300);
                String t = Files.readString(logs[r]);
                assertEquals(stop ? 130 : 0, code, t);
                text.append(t);
            }
            return agreed(text.toString());
        } finally {
            for (Process p : ps) if (p != null) p.destroyForcibly();
        }
    }

    /** {@code --sam-perturbation global} keeps the host-driven step, and its description says why. */
    @Test
    void globalPerturbationKeepsTheHostDrivenStepSayingWhy(@TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        Launch global = launch(dir, "mlp", List.of("--sam-perturbation", "global"));
        assertTrue(global.steps().get(0).startsWith("host-driven step on 2 data-parallel ranks"), global.steps().get(0));
        assertTrue(global.steps().get(0).contains("not the CUDA graph step: --sam-perturbation global all-reduces g before the decision"),
                global.steps().get(0));
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

    /**
     * Two ranks started as torchrun would; rank 1 is killed once training runs (on the graph step, so rank 0 has step
     * graphs in flight whose collectives wait for it): rank 0 ends with one line naming it. Also with the NCCL stand-in
     * waiting for the dead peer as a real NCCL does ({@code SAM4J_NCCL_STAND_IN_HANG=1}: until its communicator is
     * aborted), where only sam4j's watch of the TCP links can end the wait; and on the host-driven step.
     */
    @ParameterizedTest
    @ValueSource(strings = {"graph", "graph, NCCL waits for the dead peer", "host"})
    void aKilledCudaRankEndsTheOtherNamingIt(String how, @TempDir Path dir) throws Exception {
        requireTwoDevicesAndNccl();
        boolean hang = how.contains("waits");
        if (hang) CudaTestSupport.requireStandIn("SAM4J_NCCL_STAND_IN_HANG is a setting of the NCCL stand-in");
        int port = LaunchProcessTest.freePort();
        Path out = dir.resolve("run");
        Process[] ps = new Process[2];
        Path[] logs = new Path[2];
        try {
            for (int r = 0; r < 2; r++) {
                logs[r] = dir.resolve("rank" + r + ".log");
                List<String> cmd = java();
                cmd.addAll(trainArgs(out, 100000));
                if (how.equals("host")) cmd.addAll(List.of("--cuda-step", "host"));
                Map<String, String> env = new java.util.HashMap<>(Map.of("RANK", Integer.toString(r), "WORLD_SIZE", "2",
                        "LOCAL_RANK", Integer.toString(r), "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port)));
                if (hang) env.put("SAM4J_NCCL_STAND_IN_HANG", "1");
                ps[r] = LaunchProcessTest.start(cmd, logs[r], env);
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
