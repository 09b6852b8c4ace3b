package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/build-kernels.sh with a stand-in nvcc that warns, as a newer nvcc may: a user's build (the
 * default) prints the warning and makes the fatbin; the strict build (this project's checks) fails; a
 * compile error fails both with a note on building without kernels; {@code NVCC=none} builds without kernels.
 */
class BuildKernelsScriptTest {

    record Run(int exit, String output) {}

    /** A fake nvcc: lists targets, names a version, warns on compile and fails under -Werror (or always, with fail). */
    static Path fakeNvcc(Path dir, boolean fail) throws IOException {
        Path nvcc = dir.resolve("nvcc");
        Files.writeString(nvcc, """
                #!/usr/bin/env bash
                case "$1" in
                  --list-gpu-code) printf 'sm_75\\nsm_80\\nsm_86\\nsm_89\\nsm_90\\nsm_100\\nsm_120\\n'; exit 0 ;;
                  --version) echo "Cuda compilation tools, release 99.0, V99.0.1"; exit 0 ;;
                esac
                echo "nvcc warning : a diagnostic this project has not seen" >&2
                %s
                for a in "$@"; do [ "$a" = -Werror ] && exit 1; done
                out=; prev=; for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
                printf 'fatbin' > "$out"
                """.formatted(fail ? "echo 'kernels.cu(1): error: broken' >&2; exit 2" : ""));
        Files.setPosixFilePermissions(nvcc, PosixFilePermissions.fromString("rwxr-xr-x"));
        return nvcc;
    }

    static Run run(String nvcc, Path out, String strict) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", "scripts/build-kernels.sh", "src/main/cuda", out.toString(), strict))
                .redirectErrorStream(true);
        pb.environment().put("NVCC", nvcc);
        Process p = pb.start();
        String o = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Run(p.exitValue(), o);
    }

    @Test
    void aWarningFailsOnlyTheStrictBuild(@TempDir Path tmp) throws Exception {
        Path nvcc = fakeNvcc(tmp, false), out = tmp.resolve("k/kernels.fatbin");
        Run user = run(nvcc.toString(), out, "false");
        assertEquals(0, user.exit(), user.output());
        assertTrue(user.output().contains("a diagnostic this project has not seen"), user.output());
        assertEquals("fatbin", Files.readString(out));
        Files.delete(out);
        Run strict = run(nvcc.toString(), out, "true");
        assertEquals(1, strict.exit(), strict.output());
        assertTrue(strict.output().contains("NVCC=none builds a CPU-only jar instead"), strict.output());
        assertFalse(Files.exists(out));
    }

    @Test
    void aCompileErrorFailsWithANote(@TempDir Path tmp) throws Exception {
        Run r = run(fakeNvcc(tmp, true).toString(), tmp.resolve("kernels.fatbin"), "false");
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("the GPU kernels did not compile with this nvcc (above); NVCC=none builds a CPU-only jar instead"), r.output());
    }

    @Test
    void withoutNvccTheJarHasNoKernelsAndSaysSo(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("kernels.fatbin");
        Files.writeString(out, "stale");
        for (String nvcc : List.of("none", tmp.resolve("absent/nvcc").toString())) {
            Run r = run(nvcc, out, "true");
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("CPU-only jar without GPU kernels"), r.output());
            assertFalse(Files.exists(out), "a stale fatbin is removed");
        }
    }
}
