package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.nccl.ncclAllReduce;
import static org.bytedeco.cuda.global.nccl.ncclAvg;
import static org.bytedeco.cuda.global.nccl.ncclBroadcast;
import static org.bytedeco.cuda.global.nccl.ncclCommAbort;
import static org.bytedeco.cuda.global.nccl.ncclCommDestroy;
import static org.bytedeco.cuda.global.nccl.ncclCommGetAsyncError;
import static org.bytedeco.cuda.global.nccl.ncclCommInitRank;
import static org.bytedeco.cuda.global.nccl.ncclFloat32;
import static org.bytedeco.cuda.global.nccl.ncclFloat64;
import static org.bytedeco.cuda.global.nccl.ncclGetErrorString;
import static org.bytedeco.cuda.global.nccl.ncclGetUniqueId;
import static org.bytedeco.cuda.global.nccl.ncclGetVersion;
import static org.bytedeco.cuda.global.nccl.ncclSum;
import static org.bytedeco.cuda.global.cudart.cudaErrorNotReady;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventQuery;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceCollective;
import dev.sam4j.backend.DeviceCollective.Availability;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;

/**
 * NCCL ({@code libnccl.so.2}, found on {@code LD_LIBRARY_PATH} like cuBLAS, e.g. from PyTorch's {@code nvidia-nccl}
 * wheel) for sam4j's data-parallel ranks: one communicator per process and GPU, with JavaCPP's types kept inside this
 * package. Only the NCCL functions listed in {@link CudaEntryPoints} are called (all present since NCCL 2.4; the
 * presets carry 2.29's headers, and a function missing from an older {@code libnccl.so.2} would end the process the
 * way a CUDA one does). fp32 only, {@code ncclSum} only: the mean is the sum scaled once by the caller, the same on
 * every rank.
 *
 * <p>Every collective is queued on the backend's stream and returns at once; {@link Comm#completed} says whether the
 * last one has finished and throws if NCCL reports an asynchronous error. Waiting is the caller's job, because only the
 * caller can also watch for a peer that died (NCCL itself waits for it forever) and then {@link Comm#abort} the
 * communicator, which releases the kernel that waits.
 */
public final class Nccl {
    private Nccl() {}

    private static Availability cached;

    /**
     * Loads NCCL once per JVM; never throws. A {@code dlopen} of {@code libnccl.so.2} through {@code java.lang.foreign}
     * comes first so that a missing library gets a clear reason (JavaCPP's own failure names only its JNI library).
     */
    @SuppressWarnings("restricted")  // dlopen through java.lang.foreign: the JVM runs with --enable-native-access
    public static synchronized Availability probe() {
        if (cached != null) return cached;
        CudaRuntime.Availability cuda = CudaRuntime.probe();
        if (!cuda.available()) return cached = new Availability(false, "no CUDA: " + cuda.reason(), 0, false);
        boolean standIn;
        try {
            standIn = SymbolLookup.libraryLookup("libnccl.so.2", Arena.global()).find("sam4j_nccl_stand_in").isPresent();
        } catch (Throwable t) {
            return cached = new Availability(false, "libnccl.so.2 cannot be loaded (NCCL is not on LD_LIBRARY_PATH; "
                    + "pip's nvidia-nccl-cu13 wheel has it in site-packages/nvidia/nccl/lib)", 0, false);
        }
        try {
            Loader.load(org.bytedeco.cuda.global.nccl.class);
            int[] v = {0};
            int status = ncclGetVersion(v);
            if (status != 0) return cached = new Availability(false, "ncclGetVersion -> " + name(status) + " (" + status + ")", 0, standIn);
            return cached = new Availability(true, "NCCL " + versionString(v[0]) + (standIn ? " (CPU stand-in, not NCCL)" : ""), v[0], standIn);
        } catch (Throwable t) {
            return cached = new Availability(false, "JavaCPP could not load its NCCL bindings: " + CudaRuntime.rootMessage(t), 0, standIn);
        }
    }

    /** {@code 22903} → {@code "2.29.3"} (NCCL's code since 2.9: major·10000 + minor·100 + patch; before: ·1000, ·100). */
    public static String versionString(int code) {
        return code >= 20900 ? code / 10000 + "." + code / 100 % 100 + "." + code % 100 : code / 1000 + "." + code / 100 % 10 + "." + code % 100;
    }

    private static void require() {
        Availability a = probe();
        if (!a.available()) throw new CudaException("NCCL is not available: " + a.reason());
    }

    /** A fresh {@code ncclUniqueId}, its {@value #ID_BYTES} bytes: made by rank 0 only and handed to the others. */
    public static byte[] uniqueId() {
        require();
        try (ncclUniqueId id = new ncclUniqueId()) {
            check(ncclGetUniqueId(id), "ncclGetUniqueId");
            byte[] out = new byte[ID_BYTES];
            id.internal().get(out);
            return out;
        }
    }

    /** The size of an {@code ncclUniqueId}. */
    public static final int ID_BYTES = 128;

    static String name(int status) {
        BytePointer s = ncclGetErrorString(status);
        return s == null || s.isNull() ? "ncclResult" : s.getString();
    }

    static void check(int status, String call) {
        if (status != 0) throw new CudaException(call, status, name(status));
    }

    /**
     * Joins rank {@code rank} of {@code worldSize} to the communicator of {@code id} on {@code backend}'s device;
     * blocks until every rank has joined (NCCL's rule), so every rank must call it.
     */
    public static Comm join(CudaBackend backend, byte[] id, int worldSize, int rank) {
        require();
        if (id == null || id.length != ID_BYTES) throw new IllegalArgumentException("an ncclUniqueId has " + ID_BYTES + " bytes");
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new IllegalArgumentException("rank " + rank + " of " + worldSize);
        backend.ctx.makeCurrent();
        ncclComm comm = new ncclComm();
        try (ncclUniqueId u = new ncclUniqueId()) {
            for (int i = 0; i < ID_BYTES; i++) u.internal(i, id[i]);
            check(ncclCommInitRank(comm, worldSize, u, rank), "ncclCommInitRank(rank " + rank + " of " + worldSize + ")");
        }
        CUevent_st done = new CUevent_st();
        int status = cudaEventCreateWithFlags(done, cudaEventDisableTiming);
        if (status != cudaSuccess) {
            ncclCommDestroy(comm);
            CudaCheck.rt(status, "cudaEventCreateWithFlags");
        }
        return new Comm(backend, comm, done, rank, worldSize);
    }

    /** One rank's communicator, bound to one backend's device and stream; close it before the backend. */
    public static final class Comm implements DeviceCollective {
        private final CudaBackend backend;
        private final ncclComm comm;
        private final CUevent_st done;         // recorded after each collective: completed() queries it
        private final int rank, worldSize;
        private final CudaContext.DevicePointer send = new CudaContext.DevicePointer(0), recv = new CudaContext.DevicePointer(0);
        private final int[] asyncError = {0};
        private boolean gone;

        private Comm(CudaBackend backend, ncclComm comm, CUevent_st done, int rank, int worldSize) {
            this.backend = backend;
            this.comm = comm;
            this.done = done;
            this.rank = rank;
            this.worldSize = worldSize;
        }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return worldSize; }

        /** Queues the in-place sum of {@code x[0, n)} over the ranks on the backend's stream. */
        @Override public void allReduceSum(Buffer x, long n) {
            long a = address(x, n);
            send.set(a);
            recv.set(a);
            check(ncclAllReduce(send, recv, n, ncclFloat32, ncclSum, comm,
                    backend.ctx.stream), "ncclAllReduce(" + n + " floats)");
            record();
        }

        /** Queues the copy of rank {@code root}'s {@code x[0, n)} into every rank's {@code x}. */
        @Override public void broadcast(Buffer x, long n, int root) {
            if (root < 0 || root >= worldSize) throw new IllegalArgumentException("broadcast: root " + root + " is not in [0, " + worldSize + ")");
            long a = address(x, n);
            send.set(a);
            recv.set(a);
            check(ncclBroadcast(send, recv, n, ncclFloat32, root, comm, backend.ctx.stream),
                    "ncclBroadcast(" + n + " floats from rank " + root + ")");
            record();
        }

        /**
         * NCCL 2.10 added {@code ncclAvg}, which the step graph's scalar means use (a mean of doubles needs no kernel of
         * sam4j's then); older libraries keep the ranks on the host-driven step.
         */
        static final int AVG_SINCE = 21000;

        @Override public String graphCaptureUnsupported() {
            int v = Nccl.probe().version();
            return v >= AVG_SINCE ? null : "NCCL " + versionString(v) + " has no ncclAvg (2.10 added it), which the CUDA graph step's means need";
        }

        @Override public void markQueuedWork() {
            if (gone) throw new IllegalStateException("NCCL communicator already closed");
            backend.ctx.makeCurrent();
            record();
        }

        /**
         * Records, into the graph the backend's stream is capturing, the in-place fp32 sum of {@code n} floats at device
         * address {@code address}: a node that runs at every launch. No event is recorded (a capture may not record
         * one); the caller marks the launched work with {@link #markQueuedWork}.
         */
        void captureSum(long address, long n) {
            if (gone) throw new IllegalStateException("NCCL communicator already closed");
            send.set(address);
            recv.set(address);
            check(ncclAllReduce(send, recv, n, ncclFloat32, ncclSum, comm, backend.ctx.stream), "ncclAllReduce(" + n + " floats, captured)");
        }

        /** As {@link #captureSum}, for the in-place mean ({@code ncclAvg}) of {@code n} doubles. */
        void captureMeanOfDoubles(long address, long n) {
            if (gone) throw new IllegalStateException("NCCL communicator already closed");
            send.set(address);
            recv.set(address);
            check(ncclAllReduce(send, recv, n, ncclFloat64, ncclAvg, comm, backend.ctx.stream),
                    "ncclAllReduce(" + n + " doubles, ncclAvg, captured)");
        }

        /** Whether the last collective (and all work queued before it) has finished; throws on NCCL's asynchronous error. */
        @Override public boolean completed() {
            if (gone) throw new IllegalStateException("NCCL communicator already closed");
            check(ncclCommGetAsyncError(comm, asyncError), "ncclCommGetAsyncError");
            if (asyncError[0] != 0) throw new CudaException("NCCL (rank " + rank + ")", asyncError[0], name(asyncError[0]));
            int s = cudaEventQuery(done);
            if (s == cudaErrorNotReady) return false;
            CudaCheck.rt(s, "cudaEventQuery(after an NCCL collective)");
            return true;
        }

        /** Ends the communicator at once, releasing a collective that waits for a peer (ncclCommAbort); idempotent. */
        @Override public void abort() {
            if (gone) return;
            gone = true;
            backend.ctx.makeCurrent();
            ncclCommAbort(comm);   // the job is ending with another error: its status would say nothing more
            cudaEventDestroy(done);
        }

        /** Frees the communicator (ncclCommDestroy) after its work finished; idempotent. */
        @Override public void close() {
            if (gone) return;
            gone = true;
            backend.ctx.makeCurrent();
            cudaEventDestroy(done);
            check(ncclCommDestroy(comm), "ncclCommDestroy");
        }

        private long address(Buffer x, long n) {
            if (!(x instanceof CudaBuffer b) || b.owner != backend) {
                throw new IllegalArgumentException("NCCL collective on a buffer of another backend: " + x);
            }
            if (n < 0 || n > x.length()) throw new IllegalArgumentException("collective over " + n + " elements of a buffer of " + x.length());
            if (gone) throw new IllegalStateException("NCCL communicator already closed");
            backend.ctx.makeCurrent();
            return b.address;
        }

        private void record() {
            CudaCheck.rt(cudaEventRecord(done, backend.ctx.stream), "cudaEventRecord(after an NCCL collective)");
        }
    }
}
