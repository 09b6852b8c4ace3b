package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;

import org.bytedeco.cuda.cudart.CUDA_KERNEL_NODE_PARAMS_v2;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * One kernel with its argument block made once: {@code kernelParams} is a {@code void**} with one slot per
 * argument, each slot a one-element native holder of the C type in {@code signature} ({@code P} pointer or
 * {@code long long}: 8 bytes; {@code I} int or unsigned: 4; {@code F} float: 4; {@code D} double: 8).
 * A launch writes the values into the holders and calls {@code cuLaunchKernel}, which copies them, so the
 * same holders serve every launch and nothing is allocated per launch.
 *
 * <p>JavaCPP traps avoided here: {@code new LongPointer(v)} would allocate {@code v} elements (we write
 * {@code new LongPointer(1)} then {@code put}); holders are never made per launch (native allocation and
 * GC pressure). Not thread-safe: a backend is used by one thread at a time.
 */
final class Kernel {
    final String name;
    private final CUfunc_st function;
    private final String signature;
    private final Pointer[] slots;
    private final PointerPointer<Pointer> params;
    private CUDA_KERNEL_NODE_PARAMS_v2 nodeParams;

    Kernel(CudaModule module, String name, String signature) {
        this.name = name;
        this.function = module.function(name);
        this.signature = signature;
        this.slots = new Pointer[signature.length()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = switch (signature.charAt(i)) {
                case 'P' -> new LongPointer(1);
                case 'I' -> new IntPointer(1);
                case 'F' -> new FloatPointer(1);
                case 'D' -> new DoublePointer(1);
                default -> throw new IllegalArgumentException(name + ": bad signature " + signature);
            };
        }
        this.params = new PointerPointer<>(slots);
    }

    private void expect(int i, char type) {
        if (signature.charAt(i) != type) {
            throw new IllegalArgumentException(name + " argument " + i + " is " + signature.charAt(i) + ", not " + type);
        }
    }

    /** A pointer or {@code long long} argument. */
    Kernel p(int i, long v) { expect(i, 'P'); ((LongPointer) slots[i]).put(v); return this; }

    Kernel i(int i, int v) { expect(i, 'I'); ((IntPointer) slots[i]).put(v); return this; }

    Kernel f(int i, float v) { expect(i, 'F'); ((FloatPointer) slots[i]).put(v); return this; }

    Kernel d(int i, double v) { expect(i, 'D'); ((DoublePointer) slots[i]).put(v); return this; }

    /** Sets every argument in order: Long for P, Integer for I, Float for F, Double for D. */
    Kernel args(Object... values) {
        if (values.length != slots.length) {
            throw new IllegalArgumentException(name + " takes " + slots.length + " arguments, got " + values.length);
        }
        for (int k = 0; k < values.length; k++) {
            switch (values[k]) {
                case Long v -> p(k, v);
                case Integer v -> i(k, v);
                case Float v -> f(k, v);
                case Double v -> d(k, v);
                default -> throw new IllegalArgumentException(name + ": unsupported argument " + values[k]);
            }
        }
        return this;
    }

    /** Queues the kernel with the current argument values on {@code stream} (or records it, when capturing). */
    void launch(CUstream_st stream, int grid, int block) {
        CudaCheck.cu(cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, stream, params, (PointerPointer<?>) null),
                "cuLaunchKernel(" + name + ", grid " + grid + ", block " + block + ")");
    }

    /** Node parameters with the current argument values (copied by the graph when the node is added). */
    CUDA_KERNEL_NODE_PARAMS_v2 nodeParams(int grid, int block) {
        if (nodeParams == null) {
            nodeParams = new CUDA_KERNEL_NODE_PARAMS_v2();
            nodeParams.zero();  // kern and ctx must be null, extra unused
        }
        return nodeParams.func(function).gridDimX(grid).gridDimY(1).gridDimZ(1)
                .blockDimX(block).blockDimY(1).blockDimZ(1).sharedMemBytes(0).kernelParams(params);
    }
}
