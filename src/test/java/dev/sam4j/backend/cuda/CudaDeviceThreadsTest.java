package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaErrorInvalidResourceHandle;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.InputPipeline;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import java.util.concurrent.Callable;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code cuda:N} and threads. {@code cudaSetDevice} is per thread, so a backend on device 1 must make device 1
 * current on whichever thread calls it: a thread starts on device 0, and a thread that used device 0's
 * backend last has device 0 current. The stand-ins report two devices, record which device made each
 * stream, event, graph and library handle, and refuse a launch, capture or library call from a thread whose
 * current device is another (as a GPU does), so these tests fail where a call forgets the device. On a GPU
 * host they need two GPUs.
 */
@Tag("gpu")
class CudaDeviceThreadsTest {

    static void requireTwoDevices() {
        CudaRuntime.Availability a = CudaTestSupport.requireCuda();
        assumeTrue(a.deviceCount() >= 2, () -> "needs two CUDA devices, found " + a.deviceCount());
    }

    /** Runs {@code work} on a new thread whose current device is 0 (it used a cuda:0 backend first). */
    static <T> T onAnotherThread(Callable<T> work) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (CudaBackend zero = new CudaBackend(0, false)) {
                zero.fill(zero.allocate(16), 1f, 16);
                result.set(work.call());
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "sam4j-test-other-thread");
        t.start();
        t.join();
        if (failure.get() instanceof Exception e) throw e;
        if (failure.get() instanceof Error e) throw e;
        return result.get();
    }

    static TrainConfig config(String device, String model, String cudaStep) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:96:16").model(model).optimizer("aesam").device(device)
                .cudaStep(cudaStep).threads(2).epochs(1).batchSize(16).evalBatchSize(16).lr(0.05).build();
    }

    /**
     * A trainer built on one thread (the CLI's, say) and run on another: every step, the input pipeline's
     * copies (graph path, loader input: the feeder thread stages, the training thread submits), cuBLAS and
     * cuDNN calls and the evaluation must run on cuda:1. The result is the run's on cuda:0 from one thread,
     * bit for bit on the stand-ins (two identical devices).
     */
    @ParameterizedTest(name = "{0} on the {1} step path")
    @CsvSource({"mlp, graph", "mlp, host", "cnn, host"})  // cnn on the graph path: the same calls as mlp graph + cnn host, 8 s more
    void aTrainerBuiltOnOneThreadRunsOnAnotherOnCuda1(String model, String cudaStep) throws Exception {
        requireTwoDevices();
        float[] expected;
        try (Trainer t = new Trainer(config("cuda:0", model, cudaStep))) {
            t.run();
            expected = t.model().downloadParams();
        }
        try (Trainer t = new Trainer(config("cuda:1", model, cudaStep))) {
            assertTrue(t.backend().describe().contains("cuda:1"), t.backend().describe());
            float[] got = onAnotherThread(() -> {
                t.run();
                return t.model().downloadParams();
            });
            if (StandIn.active()) assertArrayEquals(expected, got, "cuda:1 run on another thread vs cuda:0");
            for (float v : got) assertTrue(Float.isFinite(v));
        }
    }

    /** Two backends, on device 0 and device 1, used in turn from one thread and then from another. */
    @Test
    void twoDevicesUsedInTurnFromOneThread() throws Exception {
        requireTwoDevices();
        try (CudaBackend a = new CudaBackend(0, false); CudaBackend b = new CudaBackend(1, false)) {
            Buffer xa = a.allocate(1000), xb = b.allocate(1000);
            a.fill(xa, 2f, 1000);   // device 1 is current on this thread since b was made
            b.fill(xb, 3f, 1000);
            assertEquals(4000, a.sumOfSquares(xa, 1000), 0);
            assertEquals(9000, b.sumOfSquares(xb, 1000), 0);
            Buffer ca = a.allocate(4), cb = b.allocate(4);
            a.gemm(false, false, 2, 2, 250, 1f, xa, 250, xa, 2, 0f, ca, 2);
            b.gemm(false, false, 2, 2, 250, 1f, xb, 250, xb, 2, 0f, cb, 2);
            assertArrayEquals(new double[] {1000, 1000, 1000, 1000}, a.read(ca));
            assertArrayEquals(new double[] {2250, 2250, 2250, 2250}, b.read(cb));
            double s = onAnotherThread(() -> {
                b.fill(xb, 1f, 1000);
                InputPipeline p = new InputPipeline(b.inputTransfer(), 2, 1000, 1);
                float[] ones = new float[1000];
                java.util.Arrays.fill(ones, 0.5f);
                p.publish(p.acquire(), ones, 1000, new float[] {1}, 1, 0);
                p.submit(p.next(), xb, cb);
                double r = b.sumOfSquares(xb, 1000);
                p.close();
                return r;
            });
            assertEquals(250, s, 0);
            assertEquals(4000, a.sumOfSquares(xa, 1000), 0, "device 0's buffers are untouched");
        }
    }

    /**
     * An event made on device 0 cannot be recorded on a stream of device 1: refused at the call, with
     * {@code cudaErrorInvalidResourceHandle}, by a GPU and by the stand-ins (whose record runs later on the
     * stream's worker thread, so the check must be made at the call, on the calling thread). On a device-0
     * stream the same event records.
     */
    @Test
    void anEventOfOneDeviceIsNotRecordedOnAnotherDevicesStream() throws Exception {
        requireTwoDevices();
        int[] status = onAnotherThread(() -> {   // raw cudaSetDevice calls: on a thread of their own
            CUevent_st event = new CUevent_st();
            CUstream_st zero = new CUstream_st(), one = new CUstream_st();
            CudaCheck.rt(cudaEventCreateWithFlags(event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            CudaCheck.rt(cudaStreamCreateWithFlags(zero, cudaStreamNonBlocking), "cudaStreamCreateWithFlags(device 0)");
            CudaCheck.rt(cudaSetDevice(1), "cudaSetDevice(1)");
            CudaCheck.rt(cudaStreamCreateWithFlags(one, cudaStreamNonBlocking), "cudaStreamCreateWithFlags(device 1)");
            int onOne = cudaEventRecord(event, one);
            cudaStreamDestroy(one);
            CudaCheck.rt(cudaSetDevice(0), "cudaSetDevice(0)");  // as the thread's cuda:0 backend expects
            int onZero = cudaEventRecord(event, zero);
            CudaCheck.rt(cudaStreamSynchronize(zero), "cudaStreamSynchronize");
            cudaStreamDestroy(zero);
            cudaEventDestroy(event);
            return new int[] {onOne, onZero};
        });
        assertEquals(cudaErrorInvalidResourceHandle, status[0], "an event of device 0 recorded on a stream of device 1");
        assertEquals(cudaSuccess, status[1], "the same event recorded on a stream of device 0");
    }
}
