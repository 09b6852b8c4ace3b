package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the CUDA entry-point list honest and within CUDA 13.0 (see {@link CudaEntryPoints}). Needs no GPU:
 * it reads this package's sources, the JNI libraries inside the JavaCPP jar, and the CUDA 13.0 toolkit
 * ({@code libcudart.so.13}'s exports, and {@code cupti_driver_cbid.h}, which names every driver API
 * function of the release). Skips, saying why, where the toolkit or binutils' {@code nm} is missing.
 */
class CudaEntryPointsTest {
    private static final Path SOURCES = Path.of("src/main/java/dev/sam4j/backend/cuda");
    private static final Path TOOLKIT = Path.of(System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda"));
    private static final Pattern STATIC_IMPORT = Pattern.compile("import static org\\.bytedeco\\.cuda\\.global\\.(\\w+)\\.(\\w+);");
    private static final Pattern QUALIFIED_CALL = Pattern.compile("org\\.bytedeco\\.cuda\\.global\\.(\\w+)\\.(\\w+)\\(");

    @Test
    void everyCudaFunctionTheCodeCallsIsListed() throws IOException, ClassNotFoundException {
        Set<String> listed = new HashSet<>();
        for (CudaEntryPoints.EntryPoint e : CudaEntryPoints.ALL) assertTrue(listed.add(e.name()), "listed twice: " + e.name());
        Set<String> missing = new TreeSet<>();
        int functions = 0;
        try (Stream<Path> files = Files.list(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String src = Files.readString(f);
                for (Pattern p : List.of(STATIC_IMPORT, QUALIFIED_CALL)) {
                    Matcher m = p.matcher(src);
                    while (m.find()) {
                        if (!isFunction(m.group(1), m.group(2))) continue;  // constants such as cudaSuccess
                        functions++;
                        if (!listed.contains(m.group(2))) missing.add(m.group(2) + " (" + f.getFileName() + ")");
                    }
                }
            }
        }
        assertTrue(functions > 20, "found only " + functions + " CUDA calls; did the sources move?");
        assertEquals(Set.of(), missing, "CUDA functions called but not in CudaEntryPoints.ALL");
    }

    /** Whether the presets class binds {@code name} as a method; reflection without initialising (no native load). */
    private static boolean isFunction(String library, String name) throws ClassNotFoundException {
        Class<?> c = Class.forName("org.bytedeco.cuda.global." + library, false, CudaEntryPointsTest.class.getClassLoader());
        for (Method m : c.getDeclaredMethods()) if (m.getName().equals(name) && Modifier.isStatic(m.getModifiers())) return true;
        return false;
    }

    @Test
    void everyListedFunctionExistsInCuda13_0() throws Exception {
        Path cudart = TOOLKIT.resolve("lib64/libcudart.so.13"), cbid = TOOLKIT.resolve("include/cupti_driver_cbid.h"),
                cudaH = TOOLKIT.resolve("include/cuda.h");
        assumeTrue(Files.isRegularFile(cudart) && Files.isRegularFile(cbid) && Files.isRegularFile(cudaH),
                "needs the CUDA 13.0 toolkit at " + TOOLKIT + " (set CUDA_HOME)");
        assumeTrue(Files.readString(cudaH).contains("#define CUDA_VERSION 13000"), TOOLKIT + " is not CUDA 13.0");
        assumeTrue(run("nm", "--version") != null, "needs binutils' nm");

        Set<String> runtime13 = symbols(run("nm", "-D", "--defined-only", cudart.toString()));
        String driverIds = Files.readString(cbid);
        Set<String> jniCudart = symbols(run("nm", "-D", "--undefined-only", extract("libjnicudart.so").toString()));
        Set<String> jniCublas = symbols(run("nm", "-D", "--undefined-only", extract("libjnicublas.so").toString()));
        Set<String> jniCudnn = symbols(run("nm", "-D", "--undefined-only", extract("libjnicudnn.so").toString()));
        Set<String> jniNccl = symbols(run("nm", "-D", "--undefined-only", extract("libjninccl.so").toString()));

        List<String> problems = new ArrayList<>();
        for (CudaEntryPoints.EntryPoint e : CudaEntryPoints.ALL) {
            switch (e.library()) {
                case "cudart" -> {
                    String sym = imported(jniCudart, e.name());
                    if (sym == null) problems.add(e.name() + ": not imported by libjnicudart.so");
                    else if (sym.startsWith("cuda") && !runtime13.contains(sym)) problems.add(sym + ": not in CUDA 13.0's libcudart");
                    else if (!sym.startsWith("cuda") && !Pattern.compile("CUPTI_DRIVER_TRACE_CBID_" + sym + "\\b").matcher(driverIds).find()) {
                        problems.add(sym + ": not a CUDA 13.0 driver function");
                    }
                }
                case "cublas" -> {
                    String sym = imported(jniCublas, e.name());
                    if (sym == null) problems.add(e.name() + ": not imported by libjnicublas.so");
                    else if (!(version(e.since()) <= 13.0)) problems.add(e.name() + ": since cuBLAS " + e.since());
                }
                case "cudnn" -> {
                    if (imported(jniCudnn, e.name()) == null) problems.add(e.name() + ": not imported by libjnicudnn.so");
                    else if (!(version(e.since()) <= 9.0)) problems.add(e.name() + ": since cuDNN " + e.since());
                }
                case "nccl" -> {
                    if (imported(jniNccl, e.name()) == null) problems.add(e.name() + ": not imported by libjninccl.so");
                    else if (!(version(e.since()) <= version(CudaEntryPoints.NCCL_OLDEST))) {
                        problems.add(e.name() + ": since NCCL " + e.since() + ", newer than NCCL_OLDEST " + CudaEntryPoints.NCCL_OLDEST);
                    }
                }
                default -> problems.add(e.name() + ": unknown library " + e.library());
            }
        }
        assertEquals(List.of(), problems);
    }

    /** The symbol the JNI library imports for {@code name}: the name itself, else its newest {@code _vN}. */
    private static String imported(Set<String> imports, String name) {
        if (imports.contains(name)) return name;
        for (int v = 9; v >= 2; v--) if (imports.contains(name + "_v" + v)) return name + "_v" + v;
        return null;
    }

    private static double version(String v) {
        String[] p = v.split("\\.");
        return Double.parseDouble(p[0] + "." + (p.length > 1 ? p[1] : "0"));
    }

    private static Set<String> symbols(String nmOutput) {
        Set<String> out = new HashSet<>();
        for (String line : nmOutput.split("\n")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length < 2) continue;
            String s = parts[parts.length - 1];
            int at = s.indexOf('@');
            out.add(at < 0 ? s : s.substring(0, at));
        }
        return out;
    }

    private static Path extract(String lib) throws IOException {
        String resource = "/org/bytedeco/cuda/linux-x86_64/" + lib;
        try (InputStream in = CudaEntryPointsTest.class.getResourceAsStream(resource)) {
            assertTrue(in != null, resource + " is not on the class path");
            Path tmp = Files.createTempFile("sam4j-", "-" + lib);
            tmp.toFile().deleteOnExit();
            Files.write(tmp, in.readAllBytes());
            return tmp;
        }
    }

    private static String run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
