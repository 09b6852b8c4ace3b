package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_ERROR_NO_BINARY_FOR_GPU;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;

/**
 * The project's kernels: the fatbin that the build compiles from {@code src/main/cuda} (machine code for
 * sm_75 … sm_120 and compute_80 PTX), loaded with {@code cuModuleLoadData} so the driver picks the image
 * for this GPU. The driver also resolves the kernels' device-side {@code cudaGraphSetConditional} here.
 * Before loading, the device's compute capability is checked against the fatbin's targets
 * ({@link Fatbin#check}), so that a GPU the jar has no code for is refused in one line naming both,
 * instead of failing with {@code CUDA_ERROR_NO_BINARY_FOR_GPU}.
 */
final class CudaModule implements AutoCloseable {
    /** Where the build puts the fatbin (see scripts/build-kernels.sh and pom.xml). */
    static final String RESOURCE = "/dev/sam4j/backend/cuda/kernels.fatbin";

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private boolean loaded;

    /** Loads the jar's kernels for {@code device} (e.g. {@code "cuda:0 (NVIDIA T4)"}) of compute capability {@code major.minor}. */
    CudaModule(String device, int major, int minor) {
        byte[] image = image();
        java.util.List<Fatbin.Target> targets = Fatbin.targets(image);
        Fatbin.check(targets, device, major, minor);
        try (BytePointer data = new BytePointer(image)) {
            int status = cuModuleLoadData(module, data);
            if (status == CUDA_ERROR_NO_BINARY_FOR_GPU) {
                // The check above agrees with the driver's rule; this is for a driver that disagrees.
                throw new CudaException("cuModuleLoadData: the driver found no image in this jar's GPU kernels ("
                        + Fatbin.describe(targets) + ") for " + device + ", compute capability " + major + "." + minor
                        + " (CUDA_ERROR_NO_BINARY_FOR_GPU)");
            }
            CudaCheck.cu(status, "cuModuleLoadData(kernels.fatbin, " + image.length + " bytes)");
        }
        loaded = true;
    }

    /** The fatbin's bytes, from the jar. */
    static byte[] image() {
        try (InputStream in = CudaModule.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new CudaException("this sam4j jar has no GPU kernels (" + RESOURCE + " is missing): it was built "
                        + "without nvcc; rebuild on a machine with the CUDA 13 toolkit");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("cannot read " + RESOURCE + ": " + e.getMessage());
        }
    }

    /** The kernel called {@code name} (an {@code extern "C"} name from src/main/cuda). */
    CUfunc_st function(String name) {
        return functions.computeIfAbsent(name, n -> {
            CUfunc_st f = new CUfunc_st();
            CudaCheck.cu(cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
    }

    @Override
    public void close() {
        if (!loaded) return;
        loaded = false;
        cuModuleUnload(module);
    }
}
