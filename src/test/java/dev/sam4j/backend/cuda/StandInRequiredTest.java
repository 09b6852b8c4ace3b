package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * The stand-in run is not optional: the stand-in's build script fails, naming what is missing, when it
 * cannot build (rather than building nothing and letting every CUDA test skip), says so when asked to
 * skip, and where the stand-in run is expected a CUDA that does not load fails a test instead of skipping it.
 * Runs in the ordinary test run (no tag): it needs bash, not CUDA.
 */
class StandInRequiredTest {
    static final Path BUILD = Path.of("src/test/cuda-mock/build.sh");

    record Result(int exit, String output) {}

    static Result build(Path out, Map<String, String> env, String... more) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", BUILD.toString(), out.toString()));
        cmd.addAll(List.of(more));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), output);
    }

    @Test
    void withoutTheCompilerTheBuildFailsAndSaysWhy(@TempDir Path dir) throws Exception {
        Result r = build(dir.resolve("out"), Map.of("CC", "/nonexistent/gcc"));
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("missing the C compiler /nonexistent/gcc"), r.output());
        assertFalse(Files.exists(dir.resolve("out/libcuda.so.1")));
    }

    @Test
    void withoutTheCudaHeadersTheBuildFailsAndSaysWhy(@TempDir Path dir) throws Exception {
        Result r = build(dir.resolve("out"), Map.of("CUDA_HOME", dir.resolve("no-toolkit").toString()));
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("no-toolkit/include/cuda.h"), r.output());
        assertTrue(r.output().contains("-Dsam4j.cuda.skipStandIn=true"), "names the way out: " + r.output());
    }

    @Test
    void askedToSkipItBuildsNothingAndSaysSo(@TempDir Path dir) throws Exception {
        Result r = build(dir.resolve("out"), Map.of("CC", "/nonexistent/gcc"), "true");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("CUDA stand-in not built (-Dsam4j.cuda.skipStandIn=true)"), r.output());
    }

    @Test
    void whereTheStandInRunIsExpectedACudaThatDoesNotLoadFails() {
        CudaRuntime.Availability none = new CudaRuntime.Availability(false, "libcuda.so.1 cannot be loaded", 0, false);
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> CudaTestSupport.require(none, true));
        assertTrue(e.getMessage().contains("libcuda.so.1 cannot be loaded"), e.getMessage());
        // ... and a real driver found instead of the stand-ins is no stand-in run either
        CudaRuntime.Availability gpu = new CudaRuntime.Availability(true, "1 CUDA device(s)", 1, false);
        assertThrows(AssertionFailedError.class, () -> CudaTestSupport.require(gpu, true));
        // elsewhere the same probe result only skips, and a GPU runs
        assertThrows(TestAbortedException.class, () -> CudaTestSupport.require(none, false));
        assertSame(gpu, CudaTestSupport.require(gpu, false));
    }
}
