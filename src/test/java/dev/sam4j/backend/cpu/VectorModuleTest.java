package dev.sam4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code --add-modules jdk.incubator.vector} gets one line naming the flag and where it
 * goes, from the library ({@code new CpuBackend}, {@code Backends.choose}) and from the CLI, instead of
 * {@code NoClassDefFoundError: jdk/incubator/vector/Vector}. The children run the test class path with
 * this JVM's java, without the flag.
 */
class VectorModuleTest {

    /** Child entry point: what a library user's first line would do. */
    public static void main(String[] args) {
        try (Backend b = args[0].equals("direct") ? new CpuBackend(1) : Backends.choose(args[0], 1).backend()) {
            System.out.println("started " + b.describe());
        }
    }

    record Result(int exit, String output) {}

    static Result child(String... mainAndArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx128m", "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(mainAndArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not end: " + out);
        return new Result(p.exitValue(), out);
    }

    @Test
    void presentInTheTestJvm() {
        assertTrue(VectorModule.present(), "surefire's argLine adds the module");
        VectorModule.require();
    }

    @Test
    void missingModuleIsOneLineNamingTheFlagFromTheLibrary() throws Exception {
        for (String how : List.of("direct", "cpu", "auto")) {
            Result r = child(VectorModuleTest.class.getName(), how);
            assertEquals(1, r.exit(), how + ": " + r.output());
            assertTrue(r.output().contains("java.lang.IllegalStateException: " + VectorModule.MISSING), how + ": " + r.output());
            assertFalse(r.output().contains("NoClassDefFoundError"), how + ": " + r.output());
            assertFalse(r.output().contains("started "), how + ": " + r.output());
        }
        assertFalse(VectorModule.MISSING.contains("\n"));
        for (String where : List.of("--add-modules jdk.incubator.vector", "MAVEN_OPTS", ".mvn/jvm.config", "java command line", "argLine")) {
            assertTrue(VectorModule.MISSING.contains(where), where);
        }
    }

    @Test
    void missingModuleIsOneLineFromTheCli() throws Exception {
        Result r = child("dev.sam4j.cli.Main", "info", "--device", "cpu");
        assertEquals(1, r.exit(), r.output());
        List<String> errors = r.output().lines().filter(l -> l.startsWith("sam4j: error:")).toList();
        assertEquals(List.of("sam4j: error: " + VectorModule.MISSING), errors, r.output());
        assertFalse(r.output().contains("NoClassDefFoundError"), r.output());
    }
}
