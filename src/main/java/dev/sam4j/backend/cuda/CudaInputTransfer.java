package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;
import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.InputPipeline;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.bytedeco.javacpp.Pointer;

/**
 * The CUDA side of an {@link InputPipeline}: host slots in pinned memory, copied to the device on a
 * second stream while the compute stream runs the previous step.
 *
 * <p>Why two device staging areas: the step reads its input buffers for its whole length (SAM's second
 * pass reads them again), so the next batch cannot land there while it runs. Batch {@code k} is copied
 * host→device on the copy stream into staging area {@code k mod 2}, which overlaps step {@code k-1}; the
 * compute stream then waits for that copy (an event, not a host wait) and moves the batch into the step's
 * buffers with a device-to-device copy (a few microseconds at device bandwidth), after which the staging
 * area may be overwritten by batch {@code k+2}. The host never waits here unless every pinned slot is
 * still being copied ({@link InputPipeline#inputWaits()}).
 *
 * <p>All calls come from the training thread, which makes the backend's device current first (the
 * events must be made on the device of the streams they are recorded on); the producer thread only writes
 * pinned host memory and calls no CUDA function.
 */
final class CudaInputTransfer implements InputPipeline.Transfer {
    private final CudaBackend backend;
    private final CUstream_st copyStream = new CUstream_st();
    private final CudaBuffer[] stageX = new CudaBuffer[2];
    private final CudaBuffer[] stageLabels = new CudaBuffer[2];
    private final CUevent_st[] consumed = new CUevent_st[2];
    private final List<PinnedSlot> slots = new ArrayList<>();
    private long xCapacity = -1;
    private int labelCapacity = -1;
    private int next;
    private boolean closed;

    /** A pinned host slot: {@code x} then labels in one allocation, and the event of its last copy. */
    private static final class PinnedSlot implements InputPipeline.Staging {
        final Pointer memory = new Pointer();
        final MemorySegment host;            // the pinned bytes, for the producer's plain writes
        final CudaContext.DevicePointer xSrc, labelSrc;  // raw addresses for the copy calls (position always 0)
        final CUevent_st copied = new CUevent_st();
        boolean submitted;

        PinnedSlot(long xCapacity, int labelCapacity) {
            long bytes = 4 * (xCapacity + labelCapacity);
            CudaCheck.rt(cudaMallocHost(memory, bytes), "cudaMallocHost(" + bytes + ", input slot)");
            host = MemorySegment.ofAddress(memory.address()).reinterpret(bytes);
            xSrc = new CudaContext.DevicePointer(memory.address());
            labelSrc = new CudaContext.DevicePointer(memory.address() + 4 * xCapacity);
            try {
                CudaCheck.rt(cudaEventCreateWithFlags(copied, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            } catch (RuntimeException e) {
                cudaFreeHost(memory);
                throw e;
            }
        }

        // Producer thread: plain host memory writes, no CUDA call.
        @Override public void put(float[] x, long xCount, float[] labels, int n) {
            MemorySegment.copy(x, 0, host, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, Math.toIntExact(xCount));
            MemorySegment.copy(labels, 0, host, ValueLayout.JAVA_FLOAT_UNALIGNED, labelSrc.address() - xSrc.address(), n);
        }

        void free() {
            cudaEventDestroy(copied);
            cudaFreeHost(memory);
        }
    }

    CudaInputTransfer(CudaBackend backend) {
        this.backend = backend;
        backend.ctx.makeCurrent();
        CudaCheck.rt(cudaStreamCreateWithFlags(copyStream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags(copy stream)");
        for (int i = 0; i < 2; i++) {
            consumed[i] = new CUevent_st();
            CudaCheck.rt(cudaEventCreateWithFlags(consumed[i], cudaEventDisableTiming), "cudaEventCreateWithFlags");
        }
    }

    @Override public InputPipeline.Staging newStaging(long xCap, int labelCap) {
        checkOpen();
        if (xCapacity < 0) {
            xCapacity = xCap;
            labelCapacity = labelCap;
            for (int i = 0; i < 2; i++) {
                stageX[i] = backend.allocate(xCap);
                stageLabels[i] = backend.allocate(labelCap);
                // allocate() zero-fills on the compute stream; the first copy into the area runs on the copy
                // stream, which waits for consumed[i] before it: recorded here, that wait orders the copy after
                // the fill (without it the fill could land on top of the first batch).
                CudaCheck.rt(cudaEventRecord(consumed[i], backend.ctx.stream), "cudaEventRecord(staging zeroed)");
            }
        } else if (xCap != xCapacity || labelCap != labelCapacity) {
            throw new IllegalArgumentException("all slots of one CUDA input transfer have the same size");
        }
        PinnedSlot s = new PinnedSlot(xCap, labelCap);
        slots.add(s);
        return s;
    }

    @Override public void submit(InputPipeline.Staging staging, long xCount, int n, Buffer xDst, Buffer labelDst) {
        checkOpen();
        PinnedSlot s = (PinnedSlot) staging;
        CudaBuffer dx = backend.cuda(xDst), dl = backend.cuda(labelDst);
        if (dx.length() < xCount || dl.length() < n) {
            throw new IllegalArgumentException("input buffers of " + dx.length() + "/" + dl.length() + " floats, batch needs "
                    + xCount + "/" + n);
        }
        int d = next;
        next ^= 1;
        CudaContext ctx = backend.ctx;
        // Host → staging area d on the copy stream, once the compute stream has moved out the batch that used it last.
        CudaCheck.rt(cudaStreamWaitEvent(copyStream, consumed[d], 0), "cudaStreamWaitEvent(copy stream)");
        if (xCount > 0) {
            CudaCheck.cu(cuMemcpyHtoDAsync(stageX[d].address, s.xSrc, 4 * xCount, copyStream), "cuMemcpyHtoDAsync(input)");
        }
        if (n > 0) {
            CudaCheck.cu(cuMemcpyHtoDAsync(stageLabels[d].address, s.labelSrc, 4L * n, copyStream),
                    "cuMemcpyHtoDAsync(labels)");
        }
        CudaCheck.rt(cudaEventRecord(s.copied, copyStream), "cudaEventRecord(input copied)");
        s.submitted = true;
        // Staging area d → the step's buffers, ordered on the compute stream after the previous step.
        CudaCheck.rt(cudaStreamWaitEvent(ctx.stream, s.copied, 0), "cudaStreamWaitEvent(compute stream)");
        if (xCount > 0) CudaCheck.cu(cuMemcpyDtoDAsync(dx.address, stageX[d].address, 4 * xCount, ctx.stream), "cuMemcpyDtoDAsync(input)");
        if (n > 0) CudaCheck.cu(cuMemcpyDtoDAsync(dl.address, stageLabels[d].address, 4L * n, ctx.stream), "cuMemcpyDtoDAsync(labels)");
        CudaCheck.rt(cudaEventRecord(consumed[d], ctx.stream), "cudaEventRecord(staging consumed)");
    }

    @Override public boolean done(InputPipeline.Staging staging) {
        PinnedSlot s = (PinnedSlot) staging;
        if (!s.submitted) return true;
        int r = cudaEventQuery(s.copied);
        if (r == cudaSuccess) return true;
        if (r == cudaErrorNotReady) return false;
        CudaCheck.rt(r, "cudaEventQuery(input copied)");
        return false;
    }

    @Override public void await(InputPipeline.Staging staging) {
        PinnedSlot s = (PinnedSlot) staging;
        if (s.submitted) CudaCheck.rt(cudaEventSynchronize(s.copied), "cudaEventSynchronize(input copied)");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        backend.ctx.makeCurrent();
        // Best effort, like the backend's own close: free what we can even if the context failed earlier.
        cudaStreamSynchronize(copyStream);
        for (PinnedSlot s : slots) s.free();
        slots.clear();
        for (int i = 0; i < 2; i++) {
            cudaEventDestroy(consumed[i]);
            if (stageX[i] != null) stageX[i].close();
            if (stageLabels[i] != null) stageLabels[i].close();
        }
        cudaStreamDestroy(copyStream);
        backend.forget(this);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("CUDA input transfer is closed");
        backend.ctx.makeCurrent();
    }
}
