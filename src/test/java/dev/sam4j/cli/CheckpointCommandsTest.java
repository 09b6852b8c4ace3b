package dev.sam4j.cli;

import static dev.sam4j.cli.MainTest.assertOneLineError;
import static dev.sam4j.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train --resume}, {@code train --init-from} and {@code export} on the command line. */
class CheckpointCommandsTest {

    @Test
    void exportResumeAndInitFromWorkTogether(@TempDir Path tmp) throws Exception {
        String run = tmp.resolve("run").toString(), w = tmp.resolve("w.safetensors").toString();
        String[] common = {"--data", "synthetic:1,8,8:4:64:32", "--batch-size", "16", "--device", "cpu", "--threads", "1"};
        MainTest.Outcome o = run(concat(new String[] {"train", "--epochs", "2", "--out", run}, common));
        assertEquals(0, o.code(), o.err());
        o = run("export", run, "--out", w);
        assertEquals(0, o.code(), o.err());
        assertTrue(Files.size(Path.of(w)) > 0);
        o = run("train", "--resume", run, "--threads", "2");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("resuming at step 8 (epoch 3)"), o.out());
        assertTrue(Files.readString(Path.of(run, "config.json")).contains("\"threads\": 2"));
        assertTrue(Files.readString(Path.of(run, "provenance.json")).contains("\"resumes\": [{"), "the resume is in the provenance");
        o = run(concat(new String[] {"train", "--epochs", "1", "--init-from", w, "--out", tmp.resolve("b").toString()}, common));
        assertEquals(0, o.code(), o.err());
    }

    @Test
    void badUseEndsInOneLine(@TempDir Path tmp) {
        assertOneLineError(run("train", "--resume", tmp.toString(), "--lr", "0.1"), "--resume: --lr cannot be changed when resuming");
        assertOneLineError(run("train", "--resume", tmp.toString()), tmp.resolve("config.json") + ": no such file");
        assertOneLineError(run("export", tmp.toString(), "--out", tmp.resolve("x").toString()), "checkpoint.safetensors: no such file");
        assertOneLineError(run("export", tmp.toString(), "--format", "onnx", "--out", "x"), "--format: only safetensors");
        assertOneLineError(run("train", "--on-nonfinite", "ignore"), "--on-nonfinite");
        assertOneLineError(run("train", "--checkpoint-every", "-1"), "--checkpoint-every");
        assertOneLineError(run("train", "--init-from", tmp.resolve("none").toString(), "--data", "synthetic", "--device", "cpu",
                "--out", tmp.resolve("r").toString()), "none: no such file");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
