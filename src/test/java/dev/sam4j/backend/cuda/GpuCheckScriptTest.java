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
}
