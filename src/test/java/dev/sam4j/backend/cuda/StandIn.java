package dev.sam4j.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The test settings of the CPU stand-ins for the CUDA libraries ({@code src/test/cuda-mock/devices.h}):
 * a device's compute capability ({@code cc.N}), what cuDNN reports or fails ({@code cudnn.version},
 * {@code cudnn.create}), which convolution algorithm cuDNN's Find ranks first ({@code cudnn.fastest}) and
 * whether its non-deterministic algorithm adds in a different order at every call ({@code cudnn.noise});
 * and a leak every graph launch makes ({@link #leakPerGraphLaunch}). Set through {@code java.lang.foreign} on
 * the stand-in {@code libcuda.so.1} that the JVM already has loaded. Usable only against the stand-ins: on a
 * GPU there is nothing to set.
 */
public final class StandIn {
    private StandIn() {}

    private static final int UNSET = Integer.MIN_VALUE;
    private static MethodHandle set, get, leak;

    /** Whether the CUDA libraries in this JVM are the stand-ins. */
    public static boolean active() {
        CudaRuntime.Availability a = CudaRuntime.probe();
        return a.available() && a.standIn();
    }

    /** A setting in force until closed, when it returns to its previous value. */
    public static class Setting implements AutoCloseable {
        private final String key;
        private final int previous;

        private Setting(String key, int previous) {
            this.key = key;
            this.previous = previous;
        }

        @Override public void close() { call(key, previous); }
    }

    /** Sets {@code key} to {@code value}; closing the result restores what it was. Only against the stand-ins. */
    public static Setting set(String key, int value) {
        if (!active()) throw new IllegalStateException("the stand-in settings exist only against the CPU stand-ins");
        int previous;
        try (Arena a = Arena.ofConfined()) {
            previous = (int) handles()[1].invokeExact(a.allocateFrom(key), UNSET);
        } catch (Throwable t) {
            throw new IllegalStateException("stand-in setting " + key, t);
        }
        call(key, value);
        return new Setting(key, previous);
    }

    /** {@link #set} against the stand-ins; on a GPU nothing (the GPU's own behaviour stands in for the setting). */
    public static Setting setIfActive(String key, int value) {
        return active() ? set(key, value) : new Setting(key, UNSET) {
            @Override public void close() {}
        };
    }

    /**
     * From now on every graph launch, when it runs, takes {@code bytes} more device memory and never gives it
     * back (0 stops that), so that a test can show its measurement catches a leaking launch.
     */
    public static void leakPerGraphLaunch(long bytes) {
        if (!active()) throw new IllegalStateException("only the CPU stand-in can be made to leak");
        try {
            handles()[2].invokeExact(bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot set the stand-in's leak", t);
        }
    }

    private static void call(String key, int value) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) handles()[0].invokeExact(a.allocateFrom(key), value);
            if (r != 0) throw new IllegalStateException("the stand-in refused setting " + key);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("stand-in setting " + key, t);
        }
    }

    @SuppressWarnings("restricted") // the tests' JVM runs with --enable-native-access
    private static synchronized MethodHandle[] handles() {
        if (set == null) {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            FunctionDescriptor d = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
            set = Linker.nativeLinker().downcallHandle(lib.find("sam4j_stand_in_set").orElseThrow(), d);
            get = Linker.nativeLinker().downcallHandle(lib.find("mock_setting").orElseThrow(), d);
            leak = Linker.nativeLinker().downcallHandle(lib.find("sam4j_stand_in_leak_per_graph_launch").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG));
        }
        return new MethodHandle[] {set, get, leak};
    }
}
