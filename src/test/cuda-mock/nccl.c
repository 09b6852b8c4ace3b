/*
 * libnccl.so.2 stand-in: exactly the NCCL calls sam4j makes (the "nccl" rows of CudaEntryPoints), between
 * ranks that are real processes (or threads: nothing here is per process).
 *
 * A communicator is one POSIX shared-memory segment named after the unique id that ncclGetUniqueId made
 * (random bytes behind a magic string): a header (each rank's pid, the count of ranks that arrived, and per
 * rank three counters: the round it posted, the round it finished reading, and whether it left) followed by
 * one slot of CHUNK floats per rank. A collective runs on the stream's worker thread, as a queued operation,
 * in rounds of at most CHUNK floats: each rank copies its part into its own slot and posts the round; once
 * every rank has posted, each computes the result from the slots (a sum adds the ranks in rank order, in
 * fp32, so every rank gets the same bits); each then marks the round read and waits until all have, before
 * the slots are reused. A rank waiting for a peer gives up, failing the operation (its stream is poisoned and
 * ncclCommGetAsyncError reports ncclRemoteError), when the peer's process is gone, when the peer aborted or
 * destroyed its communicator, or when its own communicator is aborted from another thread (ncclCommAbort):
 * so no test hangs on a dead rank. A real NCCL does not notice a dead peer by itself; sam4j's own wait
 * (NcclCollective) watches the TCP links for that, as it must on a GPU.
 *
 * Data types fp32 and fp64; reductions ncclSum and ncclAvg. ncclAvg is modelled as NCCL documents it for
 * floating types: each rank's value multiplied by 1/nranks (in the data type), then the sum in rank order.
 *
 * During stream capture a collective becomes a host-work node of the captured graph (marked as a collective:
 * cudaGraphInstantiate refuses one inside a conditional node's body, as NCCL's fail there, NVIDIA/nccl issue
 * 1986), which performs the cross-process round every time the graph is launched. Such a node keeps its
 * communicator's mapping for the rest of the process (the stand-in never frees graph nodes). A launch whose
 * communicator was destroyed or aborted, or whose peer is gone, fails (the graph stops, the stream is poisoned)
 * with a message naming the rank: a real NCCL kernel would wait for the peer forever, which is why sam4j watches
 * its peers from the host while it waits for the device.
 *
 * Not emulated: other data types and reductions, more than MAX_RANKS ranks. Each is refused with a message,
 * never computed wrongly.
 */
#define _GNU_SOURCE
#include "mock.h"
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
    ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6, ncclInProgress = 7
} ncclResult_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;
typedef struct ncclComm* ncclComm_t;
enum { ncclSum = 0, ncclAvg = 4 };
enum { ncclFloat32 = 7, ncclFloat64 = 8 };

int sam4j_nccl_stand_in = 1; /* Nccl's probe looks for this symbol */

#define MAX_RANKS 64
#define CHUNK (1 << 18) /* floats per rank and round: 1 MiB (half as many doubles) */
#define ID_MAGIC "sam4j-nccl-stand-in"
#define COMM_MAGIC 0x4e43434c

enum { OP_ALLREDUCE = 1, OP_BROADCAST = 2 };
enum { LEFT_ABORTED = 1, LEFT_DESTROYED = 2 };

typedef struct {
    int nranks;   /* set by the first rank to arrive; the others must agree */
    int arrived;
    int pid[MAX_RANKS];
    long long posted[MAX_RANKS];  /* the last round whose input this rank put in its slot */
    long long read[MAX_RANKS];    /* the last round whose slots this rank finished reading */
    long long what[MAX_RANKS];    /* the posted round's operation: kind, root and count, to catch mismatches */
    int left[MAX_RANKS];          /* LEFT_ABORTED / LEFT_DESTROYED */
} Header;

#define HEADER_BYTES ((sizeof(Header) + 4095) / 4096 * 4096)

struct ncclComm {
    int magic;
    int rank, nranks, device;
    Header* h;
    float* slots;
    size_t bytes;
    long long round;            /* rounds run so far; the same on every rank while they call the same collectives */
    int refs;                   /* the handle, plus one per queued operation */
    int aborted;                /* set by ncclCommAbort, read by a waiting worker */
    int async_error;
    pthread_mutex_t lock;       /* one operation of this communicator at a time */
};

typedef struct {
    struct ncclComm* c;
    const void* send;
    void* recv;
    size_t count;
    int kind, root;
    int f64, avg;     /* ncclFloat64 (else fp32); ncclAvg (else ncclSum) */
    int in_graph;     /* a node of a captured graph: runs at every launch, keeps its reference */
} Op;

static pthread_mutex_t refs_lock = PTHREAD_MUTEX_INITIALIZER;

static void unref(struct ncclComm* c) {
    pthread_mutex_lock(&refs_lock);
    int last = --c->refs == 0;
    pthread_mutex_unlock(&refs_lock);
    if (!last) return;
    munmap(c->h, c->bytes);
    mock_owner_forget(c);
    pthread_mutex_destroy(&c->lock);
    c->magic = 0;
    free(c);
}

static int comm_ok(ncclComm_t c) { return c != NULL && c->magic == COMM_MAGIC; }

static int fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("NCCL stand-in: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int pid_gone(int pid) { return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH; }

static void pause_a_little(long spins) {
    if (spins < 2000) {
        sched_yield();
    } else {
        struct timespec t = {0, 20000}; /* 20 µs: a waiting rank must not starve the one it waits for */
        nanosleep(&t, NULL);
    }
}

/*
 * SAM4J_NCCL_STAND_IN_HANG=1: wait for a dead or departed peer as a real NCCL does, until this rank's own
 * communicator is aborted (ncclCommAbort), so that a test shows that sam4j's host-side watch releases it.
 */
static int hang_like_nccl(void) {
    const char* v = getenv("SAM4J_NCCL_STAND_IN_HANG");
    return v != NULL && strcmp(v, "1") == 0;
}

/* Waits until counters[r] >= round for every rank r (only == -1) or for rank only; 1 when it gave up (says why). */
static int wait_round(struct ncclComm* c, long long* counters, int only, long long round, const char* what) {
    int hang = hang_like_nccl();
    for (long spins = 0;; spins++) {
        int lagging = -1;
        for (int r = 0; r < c->nranks && lagging < 0; r++) {
            if (only >= 0 && r != only) continue;
            if (__atomic_load_n(&counters[r], __ATOMIC_ACQUIRE) < round) lagging = r;
        }
        if (lagging < 0) return 0;
        if (__atomic_load_n(&c->aborted, __ATOMIC_ACQUIRE)) {
            return fail("rank %d: %s aborted (ncclCommAbort) while waiting for rank %d", c->rank, what, lagging);
        }
        int left = hang ? 0 : __atomic_load_n(&c->h->left[lagging], __ATOMIC_ACQUIRE);
        if (left) {
            c->async_error = ncclRemoteError;
            return fail("rank %d: %s: rank %d %s its communicator", c->rank, what, lagging,
                        left == LEFT_ABORTED ? "aborted" : "destroyed");
        }
        if (!hang && spins % 4096 == 4095 && pid_gone(c->h->pid[lagging])) {
            c->async_error = ncclRemoteError;
            return fail("rank %d: %s: rank %d (pid %d) is gone", c->rank, what, lagging, c->h->pid[lagging]);
        }
        pause_a_little(spins);
    }
}

static int run_op(void* data) {
    Op* op = data;
    struct ncclComm* c = op->c;
    Header* h = c->h;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    const char* name = op->kind == OP_ALLREDUCE ? "ncclAllReduce" : "ncclBroadcast";
    if (c->async_error || __atomic_load_n(&c->aborted, __ATOMIC_ACQUIRE)) {
        rc = fail("rank %d: %s on a communicator that failed or was aborted", c->rank, name);
    } else if (__atomic_load_n(&h->left[c->rank], __ATOMIC_ACQUIRE)) {
        rc = fail("rank %d: %s from a graph launched after its communicator was destroyed", c->rank, name);
    }
    size_t elem = op->f64 ? 8 : 4, chunk = CHUNK * 4 / elem;
    long long kind = op->kind | op->f64 << 4 | op->avg << 5;  /* the type and reduction must match too */
    long long what = (kind << 56) | ((long long) op->root << 48) | (long long) op->count;
    for (size_t off = 0; rc == 0 && off < op->count; off += chunk) {
        size_t n = op->count - off < chunk ? op->count - off : chunk;
        long long round = ++c->round;
        char* mine = (char*) c->slots + (size_t) c->rank * CHUNK * 4;
        if (op->kind == OP_ALLREDUCE || c->rank == op->root) memcpy(mine, (const char*) op->send + off * elem, elem * n);
        h->what[c->rank] = what;
        __atomic_store_n(&h->posted[c->rank], round, __ATOMIC_RELEASE);
        if ((rc = wait_round(c, h->posted, -1, round, name))) break;
        for (int r = 0; r < c->nranks; r++) {
            if (h->what[r] != what) {
                c->async_error = ncclInvalidUsage;
                rc = fail("rank %d: %s of %zu floats (root %d), but rank %d called another collective (kind %lld, root %lld, %lld floats)",
                          c->rank, name, op->count, op->root, r, h->what[r] >> 56, (h->what[r] >> 48) & 0xff,
                          h->what[r] & 0xffffffffffffLL);
                break;
            }
        }
        if (rc) break;
        if (op->kind == OP_ALLREDUCE && op->f64) {
            const double* in = (const double*) c->slots;
            double* out = (double*) op->recv + off, k = 1.0 / c->nranks;
            for (size_t i = 0; i < n; i++) {
                double acc = op->avg ? in[i] * k : in[i];
                for (int r = 1; r < c->nranks; r++) acc += op->avg ? in[(size_t) r * chunk + i] * k : in[(size_t) r * chunk + i];
                out[i] = acc;  /* rank order, fp64 */
            }
        } else if (op->kind == OP_ALLREDUCE) {
            float* out = (float*) op->recv + off, k = 1.0f / (float) c->nranks;
            for (size_t i = 0; i < n; i++) {
                float acc = op->avg ? c->slots[i] * k : c->slots[i];
                for (int r = 1; r < c->nranks; r++) {
                    float v = c->slots[(size_t) r * CHUNK + i];
                    acc += op->avg ? v * k : v;  /* rank order, fp32 */
                }
                out[i] = acc;
            }
        } else {
            memcpy((char*) op->recv + off * elem, (char*) c->slots + (size_t) op->root * CHUNK * 4, elem * n);
        }
        __atomic_store_n(&h->read[c->rank], round, __ATOMIC_RELEASE);
        rc = wait_round(c, h->read, -1, round, name);
    }
    if (rc && !c->async_error) c->async_error = ncclRemoteError;
    pthread_mutex_unlock(&c->lock);
    if (!op->in_graph) unref(c);  /* a graph's node runs again at the next launch */
    return rc;
}

static ncclResult_t enqueue(const char* name, const void* send, void* recv, size_t count, int datatype, int op, int root,
                            ncclComm_t c, CUstream stream, int kind) {
    if (!comm_ok(c)) return fail("%s: null or unknown communicator", name), ncclInvalidArgument;
    if (datatype != ncclFloat32 && datatype != ncclFloat64) {
        return fail("%s: data type %d (only ncclFloat32 and ncclFloat64 are emulated)", name, datatype), ncclInvalidArgument;
    }
    if (kind == OP_ALLREDUCE && op != ncclSum && op != ncclAvg) {
        return fail("%s: reduction %d (only ncclSum and ncclAvg are emulated)", name, op), ncclInvalidArgument;
    }
    if (root < 0 || root >= c->nranks) return fail("%s: root %d is not a rank of %d", name, root, c->nranks), ncclInvalidArgument;
    if (count >= (1ULL << 48)) return fail("%s: count %zu", name, count), ncclInvalidArgument;
    if (!mock_stream_ok(stream)) return fail("%s: null or unknown stream", name), ncclInvalidArgument;
    if (c->async_error) return fail("%s: the communicator has failed (async error %d)", name, c->async_error), c->async_error;
    if (mock_owner(stream) >= 0 && mock_owner(stream) != c->device) {
        return fail("%s: a stream of device %d, a communicator of device %d", name, mock_owner(stream), c->device), ncclInvalidUsage;
    }
    if (mock_current_device() != c->device) {
        return fail("%s: called on device %d, the communicator is on device %d", name, mock_current_device(), c->device),
               ncclInvalidUsage;
    }
    size_t elem = datatype == ncclFloat64 ? 8 : 4;
    if (count > 0) {
        if ((kind == OP_ALLREDUCE || c->rank == root) && mock_check_device(send, elem * count, "NCCL sendbuff")) return ncclInvalidArgument;
        if (mock_check_device(recv, elem * count, "NCCL recvbuff")) return ncclInvalidArgument;
    }
    Op* o = malloc(sizeof *o);
    o->c = c;
    o->send = send;
    o->recv = recv;
    o->count = count;
    o->kind = kind;
    o->root = kind == OP_ALLREDUCE ? 0 : root;
    o->f64 = datatype == ncclFloat64;
    o->avg = kind == OP_ALLREDUCE && op == ncclAvg;
    o->in_graph = stream->capture != NULL;
    pthread_mutex_lock(&refs_lock);
    c->refs++;
    pthread_mutex_unlock(&refs_lock);
    if (mock_enqueue_collective(stream, run_op, o)) {
        unref(c);
        return ncclUnhandledCudaError;
    }
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int datatype, int op, ncclComm_t comm, CUstream stream) {
    return enqueue("ncclAllReduce", send, recv, count, datatype, op, 0, comm, stream, OP_ALLREDUCE);
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, int datatype, int root, ncclComm_t comm, CUstream stream) {
    return enqueue("ncclBroadcast", send, recv, count, datatype, ncclSum, root, comm, stream, OP_BROADCAST);
}

ncclResult_t ncclGetVersion(int* version) {
    if (!version) return ncclInvalidArgument;
    *version = mock_setting("nccl.version", 22903); /* 2.29.3, the headers of the JavaCPP presets */
    return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
    if (!id) return ncclInvalidArgument;
    unsigned long long r[2];
    if (getrandom(r, sizeof r, 0) != (ssize_t) sizeof r) return fail("ncclGetUniqueId: getrandom failed"), ncclSystemError;
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "%s %016llx%016llx", ID_MAGIC, r[0], r[1]);
    return ncclSuccess;
}

static int segment_name(const ncclUniqueId* id, char* name, size_t size) {
    size_t m = strlen(ID_MAGIC);
    if (memcmp(id->internal, ID_MAGIC, m) != 0 || id->internal[m] != ' ' || strnlen(id->internal, 128) != m + 33) return 1;
    snprintf(name, size, "/sam4j-nccl-%s", id->internal + m + 1);
    return 0;
}

ncclResult_t ncclCommInitRank(ncclComm_t* out, int nranks, ncclUniqueId id, int rank) {
    if (!out) return ncclInvalidArgument;
    *out = NULL;
    char name[96];
    if (segment_name(&id, name, sizeof name)) return fail("ncclCommInitRank: the unique id was not made by ncclGetUniqueId"), ncclInvalidArgument;
    if (nranks < 1 || nranks > MAX_RANKS) return fail("ncclCommInitRank: %d ranks (the stand-in takes 1 to %d)", nranks, MAX_RANKS), ncclInvalidArgument;
    if (rank < 0 || rank >= nranks) return fail("ncclCommInitRank: rank %d is not in [0, %d)", rank, nranks), ncclInvalidArgument;
    size_t bytes = HEADER_BYTES + (size_t) nranks * CHUNK * 4;
    int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
    if (fd < 0) return fail("ncclCommInitRank: shm_open(%s): %s", name, strerror(errno)), ncclSystemError;
    if (ftruncate(fd, (off_t) bytes) != 0) {  /* every rank asks for the same size: the first one sizes it */
        close(fd);
        return fail("ncclCommInitRank: ftruncate(%s): %s", name, strerror(errno)), ncclSystemError;
    }
    void* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return fail("ncclCommInitRank: mmap(%s): %s", name, strerror(errno)), ncclSystemError;
    Header* h = p;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&h->nranks, &expected, nranks, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && expected != nranks) {
        munmap(p, bytes);
        return fail("ncclCommInitRank: rank %d says %d ranks, another rank said %d", rank, nranks, expected), ncclInvalidUsage;
    }
    int mine = 0;
    if (!__atomic_compare_exchange_n(&h->pid[rank], &mine, (int) getpid(), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        munmap(p, bytes);
        return fail("ncclCommInitRank: rank %d joined twice", rank), ncclInvalidUsage;
    }
    __atomic_add_fetch(&h->arrived, 1, __ATOMIC_ACQ_REL);
    // As ncclCommInitRank does, block until every rank has joined; a rank whose process died, or a minute
    // without all of them, fails instead of hanging.
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long spins = 0; __atomic_load_n(&h->arrived, __ATOMIC_ACQUIRE) < nranks; spins++) {
        for (int r = 0; r < nranks && spins % 4096 == 4095; r++) {
            if (pid_gone(h->pid[r])) {
                h->left[rank] = LEFT_ABORTED;
                munmap(p, bytes);
                return fail("ncclCommInitRank: rank %d (pid %d) is gone", r, h->pid[r]), ncclRemoteError;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) {
            h->left[rank] = LEFT_ABORTED;
            munmap(p, bytes);
            return fail("ncclCommInitRank: rank %d: not every rank joined within 60 s", rank), ncclSystemError;
        }
        pause_a_little(spins);
    }
    if (rank == 0) shm_unlink(name); /* every rank has it mapped now: nothing is left behind in /dev/shm */
    struct ncclComm* c = calloc(1, sizeof *c);
    c->magic = COMM_MAGIC;
    c->rank = rank;
    c->nranks = nranks;
    c->device = mock_current_device();
    c->h = h;
    c->slots = (float*) ((char*) p + HEADER_BYTES);
    c->bytes = bytes;
    c->refs = 1;
    pthread_mutex_init(&c->lock, NULL);
    mock_owner_set(c);
    *out = c;
    return ncclSuccess;
}

static ncclResult_t leave(ncclComm_t c, int how) {
    if (!comm_ok(c)) return ncclInvalidArgument;
    if (how == LEFT_ABORTED) __atomic_store_n(&c->aborted, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&c->h->left[c->rank], how, __ATOMIC_RELEASE);
    unref(c);  /* a queued operation keeps it until it ran (and, once aborted or left, fails fast) */
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t c) { return c == NULL ? ncclSuccess : leave(c, LEFT_ABORTED); }

ncclResult_t ncclCommDestroy(ncclComm_t c) { return leave(c, LEFT_DESTROYED); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t* error) {
    if (!comm_ok(c) || !error) return ncclInvalidArgument;
    *error = (ncclResult_t) c->async_error;
    return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t r) {
    switch (r) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
        case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case ncclRemoteError: return "remote process exited or there was a network error";
        case ncclInProgress: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}
