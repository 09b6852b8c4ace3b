package dev.sam4j.backend.cuda;

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
 * sm_80 … sm_120 and compute_80 PTX), loaded with {@code cuModuleLoadData} so the driver picks the image
 * for this GPU. The driver also resolves the kernels' device-side {@code cudaGraphSetConditional} here.
 */
final class CudaModule implements AutoCloseable {
    /** Where the build puts the fatbin (see scripts/build-kernels.sh and pom.xml). */
    static final String RESOURCE = "/dev/sam4j/backend/cuda/kernels.fatbin";

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private boolean loaded;

    CudaModule() {
        byte[] image;
        try (InputStream in = CudaModule.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new CudaException("this sam4j jar has no GPU kernels (" + RESOURCE + " is missing): it was built "
                        + "without nvcc; rebuild on a machine with the CUDA 13 toolkit");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("cannot read " + RESOURCE + ": " + e.getMessage());
        }
        try (BytePointer data = new BytePointer(image)) {
            CudaCheck.cu(cuModuleLoadData(module, data), "cuModuleLoadData(kernels.fatbin, " + image.length + " bytes)");
        }
        loaded = true;
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
