package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoHAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;
import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.junit.jupiter.api.Assertions.*;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The stand-in itself: asynchronous and lazy in the way that makes ordering bugs give wrong values (see
 * {@code src/test/cuda-mock/README.md}). If it ran work at the call again, {@link CudaInputPipelineTest} would
 * pass with its events removed; these checks keep that from happening unnoticed. A GPU is asynchronous too,
 * but not reliably late, so these run against the stand-in only.
 */
@Tag("gpu")
class StandInAsynchronyTest {

    private static void requireStandIn() {
        CudaTestSupport.requireStandIn("checks the CPU stand-in's schedule, not a GPU's");
    }

    @Test
    void aHostReadBeforeTheSynchronisationSeesTheOldContents() {
        requireStandIn();
        try (CudaBackend b = new CudaBackend(0, false)) {
            CudaBuffer x = b.allocate(4);
            b.upload(new float[] {1, 2, 3, 4}, 0, x, 4);
            Pointer pinned = new Pointer();
            CudaCheck.rt(cudaMallocHost(pinned, 16), "cudaMallocHost");
            try {
                FloatPointer host = new FloatPointer(pinned);
                host.put(new float[] {-1, -1, -1, -1});
                CudaCheck.cu(cuMemcpyDtoHAsync(host, x.address, 16, b.ctx.stream), "cuMemcpyDtoHAsync");
                float[] seen = new float[4];
                host.get(seen);
                assertArrayEquals(new float[] {-1, -1, -1, -1}, seen, "read before waiting: the copy has not run");
                b.ctx.synchronize("test");
                host.get(seen);
                assertArrayEquals(new float[] {1, 2, 3, 4}, seen, "read after waiting");
            } finally {
                cudaFreeHost(pinned);
            }
        }
    }

    @Test
    void anotherStreamSeesACopyOnlyAfterWaitingForItsEvent() {
        requireStandIn();
        try (CudaBackend b = new CudaBackend(0, false)) {
            CudaBuffer staging = b.allocate(4), early = b.allocate(4), late = b.allocate(4);
            b.ctx.synchronize("allocations zeroed");
            CUstream_st other = new CUstream_st();
            CUevent_st copied = new CUevent_st();
            Pointer pinned = new Pointer();
            CudaCheck.rt(cudaStreamCreateWithFlags(other, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
            CudaCheck.rt(cudaEventCreateWithFlags(copied, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            CudaCheck.rt(cudaMallocHost(pinned, 16), "cudaMallocHost");
            try {
                new FloatPointer(pinned).put(new float[] {5, 6, 7, 8});
                CudaCheck.cu(cuMemcpyHtoDAsync(staging.address, pinned, 16, other), "cuMemcpyHtoDAsync");
                CudaCheck.rt(cudaEventRecord(copied, other), "cudaEventRecord");
                assertEquals(cudaErrorNotReady, cudaEventQuery(copied), "nothing has asked for the copy yet");
                // Unordered: the compute stream reads the staging area before the other stream's copy has run.
                CudaCheck.cu(cuMemcpyDtoDAsync(early.address, staging.address, 16, b.ctx.stream), "cuMemcpyDtoDAsync");
                // Ordered by the event: the copy runs first.
                CudaCheck.rt(cudaStreamWaitEvent(b.ctx.stream, copied, 0), "cudaStreamWaitEvent");
                CudaCheck.cu(cuMemcpyDtoDAsync(late.address, staging.address, 16, b.ctx.stream), "cuMemcpyDtoDAsync");
                float[] e = new float[4], l = new float[4];
                b.download(early, e, 0, 4);
                b.download(late, l, 0, 4);
                assertArrayEquals(new float[4], e, "read without the event: the old contents");
                assertArrayEquals(new float[] {5, 6, 7, 8}, l, "read after waiting for the event");
                assertEquals(cudaSuccess, cudaEventQuery(copied));
            } finally {
                cudaFreeHost(pinned);
                cudaEventDestroy(copied);
                cudaStreamDestroy(other);
            }
        }
    }
}
