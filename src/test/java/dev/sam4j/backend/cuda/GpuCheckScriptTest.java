package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code scripts/gpu-check.sh}'s search for the CUDA libraries on a GPU host must not take sam4j's own CPU
 * stand-ins (a build's {@code target/cuda-mock} holds a {@code libcudart.so.13} and a {@code libcublas.so.13}
 * too): on a host with a checkout that was built, the GPU tests would otherwise run against the stand-ins
 * and pass without touching the GPU. Runs in the ordinary test run: it needs bash and the stand-ins this
 * build made.
 */
class GpuCheckScriptTest {

    @Test
    void theLibrarySearchSkipsTheStandIns(@TempDir Path root) throws Exception {
        Path built = Path.of("target/cuda-mock");
        assumeTrue(Files.isRegularFile(built.resolve("libcudart.so.13")), "the stand-ins were not built (-Dsam4j.cuda.skipStandIn=true)");
        Path mock = Files.createDirectories(root.resolve("checkout/target/cuda-mock"));
        for (String lib : List.of("libcudart.so.13", "libcublas.so.13")) {
            Files.copy(built.resolve(lib), mock.resolve(lib), StandardCopyOption.REPLACE_EXISTING);
        }
        Path cuda = Files.createDirectories(root.resolve("cuda/lib"));
        Files.write(cuda.resolve("libcudart.so.13"), new byte[] {0x7f, 'E', 'L', 'F'});   // stands for NVIDIA's library
        Path cudnn = Files.createDirectories(root.resolve("cudnn/lib"));
        Files.write(cudnn.resolve("libcudnn.so.9"), new byte[] {0x7f, 'E', 'L', 'F'});

        Process p = new ProcessBuilder("bash", "scripts/gpu-check.sh", "--lib-dirs", root.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        List<String> dirs = out.lines().filter(l -> !l.startsWith("gpu-check:")).toList();
        assertEquals(List.of(cuda.toString(), cudnn.toString()), dirs, out);
        assertTrue(out.contains("skipping " + mock + ": sam4j's CPU stand-ins"), out);
    }

    /**
     * The bundle ships libjvm.so gzipped (java.desktop would otherwise take it past its size limit);
     * gpu-check.sh must unpack it, byte for byte, before the first java, and a second run must find it ready.
     */
    @Test
    void theGzippedJvmLibraryIsUnpackedBeforeUse(@TempDir Path root) throws Exception {
        Path server = Files.createDirectories(root.resolve("jre/lib/server"));
        Path java = Files.createDirectories(root.resolve("jre/bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\n");
        assertTrue(java.toFile().setExecutable(true));
        byte[] lib = new byte[300_000];
        new java.util.Random(7).nextBytes(lib);
        try (var gz = new java.util.zip.GZIPOutputStream(Files.newOutputStream(server.resolve("libjvm.so.gz")))) {
            gz.write(lib);
        }
        for (int run = 0; run < 2; run++) {
            ProcessBuilder pb = new ProcessBuilder("bash", "scripts/gpu-check.sh", "--unpack-runtime").redirectErrorStream(true);
            pb.environment().put("SAM4J_BUNDLE", root.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertEquals(root.resolve("jre").toString(), out.strip(), "unpacked in place (run " + run + ")");
            assertArrayEquals(lib, Files.readAllBytes(server.resolve("libjvm.so")), "run " + run);
            assertFalse(Files.exists(server.resolve("libjvm.so.gz")), "run " + run);
        }
        // and the bundle builder gzips it, with java.desktop in the runtime (imagefolder:, PNGs)
        String bundle = Files.readString(Path.of("scripts/gpu-bundle.sh"));
        assertTrue(bundle.contains("gzip -9 \"$out/jre/lib/server/libjvm.so\""), "gpu-bundle.sh gzips libjvm.so");
        assertTrue(bundle.matches("(?s).*--add-modules [a-z.,]*java\\.desktop.*"), "gpu-bundle.sh adds java.desktop");
    }
}
