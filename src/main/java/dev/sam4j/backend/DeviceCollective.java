package dev.sam4j.backend;

/**
 * One rank's communicator for collectives on device buffers (NCCL on CUDA), made by
 * {@link Backend#joinDeviceCollective}: the backend floor's face of it, so that floors above need no CUDA type.
 * Each operation is queued on the backend's stream and returns at once; {@link #completed} says whether the last one
 * has finished, and throws if the library reports an asynchronous error. Waiting is the caller's job, since only the
 * caller can also watch for a peer that died (NCCL waits for it forever) and then {@link #abort}.
 */
public interface DeviceCollective extends AutoCloseable {

    /** Whether device collectives can be used here, and if not, why; {@code standIn}: the CPU stand-in of the tests. */
    record Availability(boolean available, String reason, int version, boolean standIn) {}

    int rank();

    int worldSize();

    /** Queues the in-place fp32 sum of {@code x[0, n)} over the ranks. */
    void allReduceSum(Buffer x, long n);

    /** Queues the copy of rank {@code root}'s {@code x[0, n)} into every rank's {@code x}. */
    void broadcast(Buffer x, long n, int root);

    /**
     * Why this communicator's collectives cannot be recorded into a device step graph (the CUDA graph step with
     * ranks), or null when they can.
     */
    String graphCaptureUnsupported();

    /**
     * Marks all work queued on the backend's stream so far (graph launches included), so that {@link #completed}
     * tells when it has finished: how a caller waits for launched step graphs while it watches its peers.
     */
    void markQueuedWork();

    /** Whether the last operation (and all work queued before it) has finished; throws on an asynchronous error. */
    boolean completed();

    /** Ends the communicator at once, releasing an operation that waits for a peer; idempotent. */
    void abort();

    /** Frees the communicator after its work has finished (before the backend is closed); idempotent. */
    @Override void close();
}
