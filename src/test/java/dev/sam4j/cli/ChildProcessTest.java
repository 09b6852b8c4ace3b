package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.SafeTensors;
import dev.sam4j.train.Checkpoint;
import dev.sam4j.train.ConfigFile;
import dev.sam4j.train.RunSummary;
import dev.sam4j.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes: a training JVM killed (SIGKILL) at random moments while it writes a checkpoint every
 * step still leaves a checkpoint that loads and resumes; Ctrl-C (SIGINT) ends a run with exit code 130 and
 * a checkpoint of the step it finished.
 */
class ChildProcessTest {

    /** A long run (many epochs of a small mlp) that writes a checkpoint every {@code every} steps. */
    static List<String> trainArgs(Path dir, int every) {
        return List.of("train", "--data", "synthetic:1,8,8:4:320:32", "--model", "mlp", "--epochs", "1000", "--batch-size", "16",
                "--eval-batch-size", "32", "--device", "cpu", "--threads", "1", "--checkpoint-every", Integer.toString(every),
                "--out", dir.toString());
    }

    static Process start(Path log, List<String> args) throws Exception {
        return start(log, args, List.of());
    }

    /** The child JVM, started through {@code launcher} (a command that execs its arguments) when not empty. */
    static Process start(Path log, List<String> args, List<String> launcher) throws Exception {
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static void awaitFile(Path f, Process p, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(f)) {
            if (!p.isAlive()) fail("child ended early:\n" + Files.readString(log));
            if (System.nanoTime() > deadline) fail("no checkpoint after 60 s:\n" + Files.readString(log));
            Thread.sleep(20);
        }
    }

    static long checkpointStep(Path dir) {
        SafeTensors.Contents c = SafeTensors.read(dir.resolve(Checkpoint.FILE));
        for (var e : c.entries().values()) c.floats(e.name()); // every tensor is complete
        return Long.parseLong(c.meta("progress.step"));
    }

    @Test
    void killedWhileCheckpointingLeavesALoadableCheckpoint(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run"), ckpt = dir.resolve(Checkpoint.FILE), log = tmp.resolve("log.txt");
        Random rnd = new Random(5);
        long last = -1;
        for (int round = 0; round < 3; round++) {
            List<String> args = round == 0 ? trainArgs(dir, 1) : List.of("train", "--resume", dir.toString());
            long before = Files.exists(ckpt) ? Files.getLastModifiedTime(ckpt).toMillis() : -1;
            Process p = start(log, args);
            try {
                awaitFile(ckpt, p, log);
                while (Files.getLastModifiedTime(ckpt).toMillis() == before) {
                    if (!p.isAlive()) fail("child ended early:\n" + Files.readString(log));
                    Thread.sleep(10);
                }
                // Checkpoints are written every step, so a random moment is often in the middle of one.
                Thread.sleep(20 + rnd.nextInt(300));
            } finally {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
            long step = checkpointStep(dir);
            assertTrue(step > last, "round " + round + ": checkpoint at step " + step + " after " + last);
            last = step;
        }
        // The surviving checkpoint resumes: two more steps (a shorter run, so the test ends).
        var cfg = ConfigFile.read(dir.resolve("config.json")).toBuilder().out(dir).maxSteps(last + 2).build();
        try (Trainer t = new Trainer(cfg)) {
            RunSummary s = t.resume(ckpt).run();
            assertEquals(last + 2, s.steps());
        }
    }

    /**
     * Whether this JVM's SIGINT is ignored (bit 2 of {@code SigIgn} in {@code /proc/self/status}): then so is a
     * child's, since an ignored disposition survives exec. That happens when the test run was started as a
     * background job of a non-interactive shell; the JVM then takes no SIGINT handler (see {@code Interrupts}).
     */
    static boolean sigintIgnoredHere() throws Exception {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) return false;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << (2 - 1))) != 0;
        }
        return false;
    }

    /** A launcher that sets SIGINT to {@code disposition} (DEFAULT or IGNORE) and execs the child; perl is in every base system. */
    static List<String> sigintLauncher(String disposition) {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/perl")), "no /usr/bin/perl to set the child's SIGINT disposition");
        return List.of("/usr/bin/perl", "-e", "$SIG{INT} = '" + disposition + "'; exec { $ARGV[0] } @ARGV or die \"exec: $!\";");
    }

    @Test
    void ctrlCFinishesTheStepWritesACheckpointAndExits130(@TempDir Path tmp) throws Exception {
        Assumptions.assumeFalse(sigintIgnoredHere(), "SIGINT is ignored in this test JVM (it was started with SIGINT ignored, e.g."
                + " from a background job), so a child started directly inherits that and cannot take Ctrl-C;"
                + " ctrlCReachesAChildWhoseSigintTheLauncherReset proves the behaviour");
        ctrlC(tmp, List.of());
    }

    /** The same, with the child's SIGINT reset to default by a launcher: runs however this test JVM was started. */
    @Test
    void ctrlCReachesAChildWhoseSigintTheLauncherReset(@TempDir Path tmp) throws Exception {
        ctrlC(tmp, sigintLauncher("DEFAULT"));
    }

    /** A child started with SIGINT ignored says, once, that Ctrl-C handling is off and why. */
    @Test
    void aChildStartedWithSigintIgnoredSaysCtrlCHandlingIsOff(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run"), log = tmp.resolve("log.txt");
        Process p = start(log, trainArgs(dir, 5), sigintLauncher("IGNORE"));
        try {
            awaitFile(dir.resolve(Checkpoint.FILE), p, log);
            String out = Files.readString(log);
            String notice = "sam4j: Ctrl-C handling is off: SIGINT was ignored when this process started";
            assertTrue(out.contains(notice), out);
            assertEquals(out.indexOf(notice), out.lastIndexOf(notice), "said once");
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static void ctrlC(Path tmp, List<String> launcher) throws Exception {
        Path dir = tmp.resolve("run"), log = tmp.resolve("log.txt");
        Process p = start(log, trainArgs(dir, 5), launcher);
        try {
            awaitFile(dir.resolve(Checkpoint.FILE), p, log);
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child did not stop after SIGINT");
            assertEquals(130, p.exitValue(), Files.readString(log));
        } finally {
            p.destroyForcibly();
        }
        long step = checkpointStep(dir);
        assertEquals(step, Files.readAllLines(dir.resolve("steps.jsonl")).size(), "records end where the checkpoint is");
        assertTrue(Files.readString(dir.resolve("summary.json")).contains("\"interrupted\": true"));
        assertTrue(Files.readString(log).contains("interrupted after " + step + " steps"), Files.readString(log));
    }
}
