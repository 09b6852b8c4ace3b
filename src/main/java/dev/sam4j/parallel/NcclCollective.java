package dev.sam4j.parallel;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.DeviceCollective;

/**
 * Ranks on CUDA, one process per GPU: the device buffers move over NCCL, everything else over the job's
 * {@link TcpCollective} (which made the rendezvous and handed out rank 0's {@code ncclUniqueId} as its shared id).
 *
 * <ul>
 *   <li>{@link #allReduce(Backend, Buffer, long, Op)}: {@code ncclAllReduce} with {@code ncclSum} in place; for
 *       {@link Op#MEAN} the sum is then scaled by {@code 1/N} on the device ({@code axpby}), the same bits on every
 *       rank. NCCL adds the ranks in its own order (ring or tree, chosen by topology and size), not in rank order as
 *       the TCP and in-process groups do, so its sums can differ from theirs in the last bits; but each element is
 *       reduced once and the result copied to every rank, so every rank holds the same bits, which is what the
 *       identical decision needs (the stand-in sums in rank order). Run to run it is deterministic for a fixed
 *       topology and NCCL version (pin {@code NCCL_ALGO}/{@code NCCL_PROTO} to be sure).</li>
 *   <li>{@link #allReduce(double[], Op)} stays on the TCP links: these are a few host scalars (the squared gradient
 *       norms the SAM-family decision is made from, loss sums, evaluation counts) that the host step already holds, the
 *       TCP group sums them in double in rank order (so the decision is computed from exactly the values the CPU ranks
 *       would use), and a trip through a device buffer would cost an upload, an NCCL launch and a synchronisation for
 *       8 bytes.</li>
 *   <li>{@link #broadcast}: {@code ncclBroadcast} in place. {@link #barrier}: the TCP barrier (NCCL has none; every
 *       NCCL operation has finished by then, since each is waited for).</li>
 * </ul>
 *
 * <p>Each NCCL operation is waited for before it returns (the host-driven step reads the reduced gradient's norm next
 * anyway), and the wait watches the TCP links: NCCL waits for a dead peer forever, so a closed link or an abort there
 * ends the wait, aborts the communicator ({@code ncclCommAbort}, which releases the kernel) and throws a
 * {@link CollectiveException} naming the rank. An asynchronous NCCL error does the same, naming the rank the TCP links
 * name within a short grace (else this rank's NCCL error). With an operation timeout, an NCCL operation that does not
 * finish in time ends the job too.
 */
public final class NcclCollective implements Collective {
    private static final long GRACE_NANOS = 3_000_000_000L;

    private final TcpCollective tcp;
    private final Backend backend;
    private final DeviceCollective comm;
    private final long opTimeoutNanos;
    private volatile CollectiveException broken;   // written by the watchdog thread too

    private NcclCollective(TcpCollective tcp, Backend backend, DeviceCollective comm, long opTimeoutMillis) {
        this.tcp = tcp;
        this.backend = backend;
        this.comm = comm;
        this.opTimeoutNanos = opTimeoutMillis * 1_000_000L;
    }

    /**
     * The NCCL communicator of {@code tcp}'s ranks on {@code backend}'s device, joined with {@code tcp}'s shared id as
     * the {@code ncclUniqueId}. Every rank of the job must call it (first a TCP check that every rank runs on CUDA with
     * NCCL, so that a mixed job ends in one line instead of a hang in {@code ncclCommInitRank}). {@code opTimeoutMillis
     * > 0}: an NCCL operation unfinished after that long ends the job.
     */
    public static NcclCollective join(TcpCollective tcp, Backend backend, long opTimeoutMillis) {
        if (!backend.supportsDeviceCollectives()) throw new IllegalArgumentException(backend.name() + " has no device collectives");
        DeviceCollective.Availability a = Backends.deviceCollectives();
        double[] ready = {a.available() ? 1 : 0};
        tcp.allReduce(ready, Op.SUM);
        if (!a.available()) {
            throw new CollectiveException(tcp.rank(), "rank " + tcp.rank() + ": --device cuda with " + tcp.worldSize()
                    + " ranks needs NCCL: " + a.reason(), null);
        }
        if (ready[0] != tcp.worldSize()) {
            throw new CollectiveException(-1, (tcp.worldSize() - (int) ready[0]) + " of " + tcp.worldSize()
                    + " ranks cannot use NCCL (each says why); every rank of a CUDA job needs it", null);
        }
        DeviceCollective comm;
        try {
            comm = backend.joinDeviceCollective(tcp.sharedId(), tcp.worldSize(), tcp.rank());
        } catch (RuntimeException e) {
            tcp.abort(e);
            throw new CollectiveException(tcp.rank(), "rank " + tcp.rank() + ": " + e.getMessage(), e);
        }
        return new NcclCollective(tcp, backend, comm, opTimeoutMillis);
    }

    /** The NCCL this process loaded, for the run's header. */
    public static String version() { return Backends.deviceCollectives().reason(); }

    /** The backend whose device and stream the communicator is bound to. */
    Backend backend() { return backend; }

    @Override public int rank() { return tcp.rank(); }
    @Override public int worldSize() { return tcp.worldSize(); }

    @Override public String describe() {
        return worldSize() + " data-parallel ranks in " + worldSize() + " processes on CUDA over " + Backends.deviceCollectives().reason()
                + " (rendezvous and host scalars over TCP)";
    }

    @Override public synchronized void allReduce(Backend backend, Buffer x, long n, Op op) {
        mine(backend);
        if (n == 0) return;
        try {
            comm.allReduceSum(x, n);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw e;   // a caller's mistake, not a failed rank
        } catch (RuntimeException e) {   // the library's error (CudaException): find out who ended the job
            throw failed(e);
        }
        await("ncclAllReduce of " + n + " floats");
        if (op == Op.MEAN) backend.axpby(1.0 / worldSize(), x, 0.0, x, x, n);
    }

    /** The NCCL communicator itself, which the CUDA graph step records its collectives with. */
    public DeviceCollective device() { return comm; }

    /**
     * Waits for everything queued on the backend's stream so far (launched step graphs and their collectives) while
     * watching the TCP links, as every NCCL operation here is waited for: the step graph's host-side watchdog. A real
     * NCCL kernel waits for a dead peer forever, and the next synchronisation with it; this wait instead ends when a
     * peer's link closes or it aborts, aborts the communicator (releasing the kernel) and throws naming the rank.
     */
    public synchronized void awaitLaunched(String what) {
        if (broken != null) throw broken;
        try {
            comm.markQueuedWork();
        } catch (IllegalStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw failed(e);
        }
        await(what);
    }

    private Thread watchdog;   // watches the TCP links while step graphs run, or null
    private volatile boolean watching;

    /**
     * Starts watching the TCP links from a daemon thread, every 50 ms, while launched step graphs run (between a graph
     * segment's start and its read-back, {@link #stopWatching}): a host that meanwhile blocks in a device
     * synchronisation (an input copy waiting for a step that waits in NCCL for a dead peer) would otherwise never look.
     * A closed link or an abort there aborts the communicator ({@code ncclCommAbort}, which releases the waiting kernel
     * and so the blocked synchronisation, with an error) and records the rank, which {@link #explain} then names. Only
     * in that window: a peer closes its links in order only after the run's last barrier, which this rank reaches after
     * its read-back.
     */
    public synchronized void startWatching() {
        if (broken != null || watchdog != null) return;
        watching = true;
        watchdog = Thread.ofPlatform().daemon().name("sam4j-nccl-watchdog-rank-" + rank()).start(() -> {
            while (watching) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    continue;   // stopWatching: the loop condition says whether to go on
                }
                synchronized (this) {
                    if (!watching || broken != null) return;
                    try {
                        tcp.poll();
                    } catch (CollectiveException e) {
                        end(e);
                        return;
                    }
                }
            }
        });
    }

    /** Stops the watch of {@link #startWatching} (the caller's own waits watch the links again); idempotent. */
    public void stopWatching() {
        Thread t;
        synchronized (this) {
            t = watchdog;
            watchdog = null;
            watching = false;
        }
        if (t == null) return;
        t.interrupt();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * An error from the device while launched step graphs ran (their collectives run inside them): the rank the TCP
     * links name within a short grace (a peer that died or aborted), else this rank's error, told to the group.
     */
    public synchronized CollectiveException explain(RuntimeException e) {
        return broken != null ? broken : failed(e);
    }

    @Override public void allReduce(double[] values, Op op) {
        if (broken != null) throw broken;
        tcp.allReduce(values, op);
    }

    @Override public synchronized void broadcast(Backend backend, Buffer x, long n, int root) {
        mine(backend);
        if (root < 0 || root >= worldSize()) throw new IllegalArgumentException("broadcast: root " + root + " is not in [0, " + worldSize() + ")");
        if (n == 0) return;
        try {
            comm.broadcast(x, n, root);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw e;   // a caller's mistake, not a failed rank
        } catch (RuntimeException e) {   // the library's error (CudaException): find out who ended the job
            throw failed(e);
        }
        await("ncclBroadcast of " + n + " floats from rank " + root);
    }

    @Override public void barrier() {
        if (broken != null) throw broken;
        tcp.barrier();
    }

    /** Aborts the NCCL communicator (releasing any kernel that waits) and tells the group over TCP. */
    @Override public synchronized void abort(Throwable cause) {
        comm.abort();
        tcp.abort(cause);
    }

    /** Frees the communicator; the TCP group belongs to whoever joined it. After an abort there is nothing to free. */
    @Override public void close() {
        stopWatching();
        closeCommunicator();
    }

    private synchronized void closeCommunicator() {
        if (broken != null) {
            comm.abort();
        } else {
            comm.close();
        }
    }

    private void mine(Backend b) {
        if (broken != null) throw broken;
        if (b != backend) throw new IllegalArgumentException("NCCL collective on another backend than the one it was joined on");
    }

    /** Waits for the queued NCCL operation while watching the TCP links, NCCL's asynchronous error and the timeout. */
    private void await(String what) {
        long start = System.nanoTime();
        for (long spins = 0;; spins++) {
            boolean done;
            try {
                done = comm.completed();
            } catch (RuntimeException e) {
                throw failed(e);
            }
            if (done) return;
            try {
                tcp.poll();
            } catch (CollectiveException e) {
                // A peer that finished this operation may end the job right after it (its abort can arrive before this
                // rank sees the operation complete): then this operation stands, and the next one, whose poll throws the
                // same exception again, ends the job.
                if (completedQuietly()) return;
                throw end(e);
            }
            if (opTimeoutNanos > 0 && System.nanoTime() - start > opTimeoutNanos) {
                CollectiveException e = new CollectiveException(-1, "rank " + rank() + ": " + what + " did not finish within "
                        + opTimeoutNanos / 1_000_000_000L + " s (a rank is stuck or gone)", null);
                tcp.abort(e);
                throw end(e);
            }
            if (spins < 1000) Thread.onSpinWait();
            else sleepMicros(50);
        }
    }

    /** Whether the queued operation has completed, false where NCCL reports an error instead. */
    private boolean completedQuietly() {
        try {
            return comm.completed();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * NCCL reported an error: find out over TCP, for a short while, which rank ended the job (a peer that died or
     * aborted); if none does, this rank's NCCL error is the reason and it is told to the group.
     */
    private CollectiveException failed(RuntimeException e) {
        long deadline = System.nanoTime() + GRACE_NANOS;
        while (System.nanoTime() < deadline) {
            try {
                tcp.poll();
            } catch (CollectiveException peer) {
                return end(peer);
            }
            sleepMicros(5000);
        }
        CollectiveException mine = new CollectiveException(rank(), "rank " + rank() + ": " + e.getMessage(), e);
        tcp.abort(mine);
        return end(mine);
    }

    private CollectiveException end(CollectiveException e) {
        if (broken == null) broken = e;
        comm.abort();
        return broken;
    }

    private static void sleepMicros(long us) {
        try {
            Thread.sleep(java.time.Duration.ofNanos(us * 1000));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }
}
