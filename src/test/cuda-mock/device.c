/*
 * libcuda.so.1 stand-in, the device's runtime model (driver.c holds the kernel emulations): device
 * memory and what cudaMemGetInfo reports, pinned host memory, streams as queues each run by its own
 * worker thread, events, cross-stream waits, and graphs (building, and running them on a worker).
 *
 * The device is asynchronous and lazy. An operation queued on a stream (copy, memset, kernel, library
 * call, graph launch, event record, wait) runs on that stream's worker, in stream order, and only when
 * something needs it: a blocking host call (cudaStreamSynchronize, cudaEventSynchronize, cuMemFree,
 * cudaFreeHost, a copy to pageable memory), another stream's cudaStreamWaitEvent reached by its worker,
 * or a host polling an event that long (POLL_PROGRESS answers of "not ready"). When a stream is made to
 * run it runs everything queued on it so far, not just what was asked for. So a host that reads a copy's
 * destination without waiting sees what was there before, an unordered reader on another stream sees the
 * old contents, and an unordered writer on another stream has already overwritten them: each such bug
 * gives wrong values, not a lucky pass. A correctly ordered program gets the same results whatever the
 * timing of the threads, because each operation's inputs are fixed by the order it waited for.
 *
 * A failed operation (a kernel touching memory outside every live allocation, say) poisons its stream:
 * later work there is skipped, a stream waiting on it is poisoned too, and every later call on it returns
 * the error (CUDA poisons the whole context; the stand-in keeps it per stream so that one test's failure
 * does not fail the next test in the same process).
 *
 * Memory accounting: cudaMemGetInfo reports TOTAL minus a context reserve minus everything the stand-in
 * holds in "device memory": cuMemAlloc blocks (rounded up to 256 bytes) and what the libraries charge
 * through mock_charge (the fatbin's code, executable graphs, the cuBLAS and cuDNN handles, cuDNN's
 * scratch while Find runs). cuMemAlloc beyond TOTAL fails with CUDA_ERROR_OUT_OF_MEMORY. The two devices
 * of devices.h share this one pool.
 */
#include "mock.h"
#include <pthread.h>
#include <time.h>

/* ------------------------------------------------------------------------------- memory */

#define TOTAL_BYTES (8ull << 30)  /* cudaGetDeviceProperties' totalGlobalMem (runtime.c) */
#define CONTEXT_BYTES (300ull << 20) /* what a CUDA context itself takes, roughly */

typedef struct { uintptr_t base; size_t size; } Range;
typedef struct { Range* r; int n, cap; } Ranges;

static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;
static Ranges device_ranges, pinned_ranges;
static unsigned long long used_bytes; /* device allocations + charges, under mem_mu */

static size_t footprint(size_t bytes) { return (bytes + 255) / 256 * 256; }

static int find_range(const Ranges* rs, uintptr_t p) {
    for (int i = 0; i < rs->n; i++) if (p >= rs->r[i].base && p < rs->r[i].base + rs->r[i].size) return i;
    return -1;
}
static void add_range(Ranges* rs, uintptr_t base, size_t size) {
    if (rs->n == rs->cap) { rs->cap = rs->cap ? 2 * rs->cap : 64; rs->r = realloc(rs->r, rs->cap * sizeof *rs->r); }
    rs->r[rs->n++] = (Range){base, size};
}

int mock_is_device(const void* p) {
    pthread_mutex_lock(&mem_mu);
    int i = find_range(&device_ranges, (uintptr_t)p);
    pthread_mutex_unlock(&mem_mu);
    return i >= 0;
}

static int is_pinned(const void* p, size_t bytes) {
    pthread_mutex_lock(&mem_mu);
    int i = find_range(&pinned_ranges, (uintptr_t)p);
    int ok = i >= 0 && (uintptr_t)p + bytes <= pinned_ranges.r[i].base + pinned_ranges.r[i].size;
    pthread_mutex_unlock(&mem_mu);
    return ok;
}

int mock_check_device(const void* p, size_t bytes, const char* what) {
    if (bytes == 0) return 0;
    pthread_mutex_lock(&mem_mu);
    int i = find_range(&device_ranges, (uintptr_t)p);
    Range r = i >= 0 ? device_ranges.r[i] : (Range){0, 0};
    pthread_mutex_unlock(&mem_mu);
    if (i < 0) return MOCK_FAIL("%s: %p is not in any live device allocation (freed, or a host pointer?)", what, p);
    if ((uintptr_t)p + bytes > r.base + r.size)
        return MOCK_FAIL("%s: %zu bytes at %p run past the end of a %zu-byte allocation", what, bytes, p, r.size);
    return 0;
}

int mock_charge(long long bytes) {
    pthread_mutex_lock(&mem_mu);
    int fits = bytes <= 0 || used_bytes + (unsigned long long)bytes + CONTEXT_BYTES <= TOTAL_BYTES;
    if (fits) used_bytes += (unsigned long long)bytes;
    pthread_mutex_unlock(&mem_mu);
    return fits ? 0 : MOCK_FAIL("out of device memory: %lld more bytes do not fit", bytes);
}

void mock_mem_info(size_t* free_bytes, size_t* total_bytes) {
    pthread_mutex_lock(&mem_mu);
    *free_bytes = TOTAL_BYTES - CONTEXT_BYTES - used_bytes;
    pthread_mutex_unlock(&mem_mu);
    *total_bytes = TOTAL_BYTES;
}

CUresult cuMemAlloc(CUdeviceptr* p, size_t bytes) {
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (mock_charge((long long)footprint(bytes))) return CUDA_ERROR_OUT_OF_MEMORY;
    void* m = aligned_alloc(256, footprint(bytes));
    if (!m) { mock_charge(-(long long)footprint(bytes)); return CUDA_ERROR_OUT_OF_MEMORY; }
    memset(m, 0xff, bytes); /* device memory is not zeroed: NaN patterns expose missing initialisation */
    pthread_mutex_lock(&mem_mu);
    add_range(&device_ranges, (uintptr_t)m, bytes);
    pthread_mutex_unlock(&mem_mu);
    *p = (CUdeviceptr)(uintptr_t)m;
    return CUDA_SUCCESS;
}

CUresult cuMemFree(CUdeviceptr p) {
    mock_device_sync(); /* as on a GPU: queued work that may still use the block finishes first */
    pthread_mutex_lock(&mem_mu);
    int i = find_range(&device_ranges, (uintptr_t)p);
    int ok = i >= 0 && device_ranges.r[i].base == (uintptr_t)p;
    size_t size = ok ? device_ranges.r[i].size : 0;
    if (ok) { device_ranges.r[i] = device_ranges.r[--device_ranges.n]; used_bytes -= footprint(size); }
    pthread_mutex_unlock(&mem_mu);
    if (!ok) { MOCK_FAIL("cuMemFree(%p): not the start of a live allocation", (void*)(uintptr_t)p); return CUDA_ERROR_INVALID_VALUE; }
    free((void*)(uintptr_t)p);
    return CUDA_SUCCESS;
}

void* mock_host_alloc(size_t bytes) {
    void* m = malloc(bytes ? bytes : 1);
    if (!m) return NULL;
    pthread_mutex_lock(&mem_mu);
    add_range(&pinned_ranges, (uintptr_t)m, bytes ? bytes : 1);
    pthread_mutex_unlock(&mem_mu);
    return m;
}

int mock_host_free(void* p) {
    if (!p) return 0;
    mock_device_sync(); /* cudaFreeHost waits for the device, so no queued copy reads freed memory */
    pthread_mutex_lock(&mem_mu);
    int i = find_range(&pinned_ranges, (uintptr_t)p);
    int ok = i >= 0 && pinned_ranges.r[i].base == (uintptr_t)p;
    if (ok) pinned_ranges.r[i] = pinned_ranges.r[--pinned_ranges.n];
    pthread_mutex_unlock(&mem_mu);
    if (!ok) return MOCK_FAIL("cudaFreeHost(%p): not pinned memory from cudaMallocHost", p);
    free(p);
    return 0;
}

/* A test hook (never called by sam4j itself): every graph launch, when it runs, takes this many more bytes
 * of device memory and never gives them back, so that a test can check that its measurement sees a leak. */
static unsigned long long leak_per_launch;
void sam4j_stand_in_leak_per_graph_launch(unsigned long long bytes) { __atomic_store_n(&leak_per_launch, bytes, __ATOMIC_SEQ_CST); }

/* ------------------------------------------------------------------------ streams and events */

enum { OP_KERNEL = 1, OP_CALLBACK, OP_COPY, OP_MEMSET, OP_GRAPH, OP_RECORD, OP_WAIT };
#define POLL_PROGRESS 64   /* "not ready" answers for one recorded event before its stream is made to run */
#define STICKY_ERROR 700   /* CUDA_ERROR_ILLEGAL_ADDRESS and cudaErrorIllegalAddress */

typedef struct Op {
    struct Op* next;
    int kind;
    MockNode node;                              /* OP_KERNEL */
    mock_callback_fn fn;                        /* OP_CALLBACK: fn(data), then free(data) */
    void* data;
    void *dst, *src; size_t bytes; void* owned; /* OP_COPY (owned: a snapshot of pageable memory), OP_MEMSET (src unused) */
    unsigned value;
    struct CUgraph_st* graph;                   /* OP_GRAPH */
    struct CUevent_st* event; unsigned gen;     /* OP_RECORD */
    CUstream waits_on; unsigned long long seq;  /* OP_WAIT: until waits_on has completed seq operations */
} Op;

struct MockQueue {
    pthread_t thread;
    pthread_cond_t work;                            /* the worker waits here for a demand (or the end) */
    pthread_cond_t done;                            /* whoever waits for this stream's progress waits here */
    Op *head, *tail;
    unsigned long long enqueued, completed, target; /* counts of operations; the worker runs while completed < target */
    int waiters;                                    /* threads waiting on done */
    int error;                                      /* sticky: STICKY_ERROR once an operation failed */
    int destroyed, exited;
};

struct CUevent_st { int magic; CUstream stream; unsigned long long seq; unsigned gen; int polls; double t; };
#define EVENT_MAGIC 0x45564e54

/* One lock for every queue and event; the operations themselves run outside it. */
static pthread_mutex_t dev_mu = PTHREAD_MUTEX_INITIALIZER;
static CUstream* streams; /* every stream ever made (never freed: events and waits may still name them) */
static int nstreams, capstreams;

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

int mock_stream_ok(CUstream s) { return s && s->magic == STREAM_MAGIC; }

/* dev_mu held: makes s run everything queued on it so far. */
static void demand(CUstream s) {
    if (s->queue->target < s->queue->enqueued) {
        s->queue->target = s->queue->enqueued;
        pthread_cond_signal(&s->queue->work);
    }
}

/* dev_mu held: makes s run and waits until it has completed seq operations; returns its sticky error. */
static int wait_for(CUstream s, unsigned long long seq) {
    struct MockQueue* q = s->queue;
    demand(s);
    q->waiters++;
    while (q->completed < seq) pthread_cond_wait(&q->done, &dev_mu);
    q->waiters--;
    return q->error;
}

static int run_op(Op* op) {
    switch (op->kind) {
        case OP_KERNEL: return mock_run_kernel(&op->node);
        case OP_CALLBACK: return op->fn(op->data);
        case OP_COPY: memmove(op->dst, op->owned ? op->owned : op->src, op->bytes); return 0;
        case OP_MEMSET: for (size_t i = 0; i < op->bytes / 4; i++) ((unsigned*)op->dst)[i] = op->value; return 0;
        case OP_GRAPH: {
            struct CUgraph_st* g = op->graph;
            for (int i = 0; i < g->ncond; i++) if (g->assign_default[i]) *g->conds[i] = g->defaults[i];
            unsigned long long leak = __atomic_load_n(&leak_per_launch, __ATOMIC_SEQ_CST);
            if (leak) mock_charge((long long)leak);
            return mock_run_graph(g);
        }
    }
    return MOCK_FAIL("unknown stream operation %d", op->kind);
}

static void free_op(Op* op) {
    if (op->kind == OP_CALLBACK) free(op->data);
    free(op->owned);
    free(op);
}

static void* worker(void* arg) {
    CUstream s = arg;
    struct MockQueue* q = s->queue;
    pthread_mutex_lock(&dev_mu);
    for (;;) {
        while (!(q->head && q->completed < q->target) && !(q->destroyed && !q->head)) pthread_cond_wait(&q->work, &dev_mu);
        if (!q->head) break; /* destroyed, and everything queued has run */
        Op* op = q->head;
        if (op->kind == OP_WAIT) {
            if (wait_for(op->waits_on, op->seq) && !q->error) q->error = STICKY_ERROR;
        } else if (op->kind == OP_RECORD) {
            if (op->event->gen == op->gen) op->event->t = now(); /* not if re-recorded since */
        } else if (!q->error) {
            pthread_mutex_unlock(&dev_mu);
            int r = run_op(op);
            pthread_mutex_lock(&dev_mu);
            if (r) q->error = STICKY_ERROR;
        }
        q->head = op->next;
        if (!q->head) q->tail = NULL;
        q->completed++;
        if (q->waiters) pthread_cond_broadcast(&q->done);
        pthread_mutex_unlock(&dev_mu);
        free_op(op);
        pthread_mutex_lock(&dev_mu);
    }
    q->exited = 1;
    pthread_mutex_unlock(&dev_mu);
    return NULL;
}

CUstream mock_stream_new(void) {
    struct CUstream_st* s = calloc(1, sizeof *s);
    s->magic = STREAM_MAGIC;
    s->queue = calloc(1, sizeof *s->queue);
    pthread_cond_init(&s->queue->work, NULL);
    pthread_cond_init(&s->queue->done, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&s->queue->thread, &attr, worker, s);
    pthread_attr_destroy(&attr);
    if (r) { MOCK_FAIL("cannot start a stream's worker thread"); free(s->queue); free(s); return NULL; }
    pthread_mutex_lock(&dev_mu);
    if (nstreams == capstreams) { capstreams = capstreams ? 2 * capstreams : 16; streams = realloc(streams, capstreams * sizeof *streams); }
    streams[nstreams++] = s;
    pthread_mutex_unlock(&dev_mu);
    return s;
}

/* As cudaStreamDestroy: returns at once; what is queued still runs, then the worker ends. */
int mock_stream_destroy(CUstream s) {
    if (!mock_stream_ok(s)) return 1;
    pthread_mutex_lock(&dev_mu);
    s->magic = 0;
    s->queue->destroyed = 1;
    demand(s);
    pthread_cond_signal(&s->queue->work);
    pthread_mutex_unlock(&dev_mu);
    return 0;
}

int mock_stream_sync(CUstream s) {
    pthread_mutex_lock(&dev_mu);
    int r = wait_for(s, s->queue->enqueued);
    pthread_mutex_unlock(&dev_mu);
    return r;
}

int mock_device_sync(void) {
    int r = 0;
    pthread_mutex_lock(&dev_mu);
    for (int i = 0; i < nstreams; i++) if (!streams[i]->queue->exited) r |= wait_for(streams[i], streams[i]->queue->enqueued);
    pthread_mutex_unlock(&dev_mu);
    return r;
}

/* Appends op to s (taking it over); returns the stream's sticky error, 0 if none, and the op's position. */
static int enqueue(CUstream s, Op* op, unsigned long long* seq) {
    pthread_mutex_lock(&dev_mu);
    struct MockQueue* q = s->queue;
    if (q->tail) q->tail->next = op; else q->head = op;
    q->tail = op;
    unsigned long long at = ++q->enqueued;
    int err = q->error;
    if (op->kind == OP_RECORD) { op->event->stream = s; op->event->seq = at; op->event->gen = op->gen; op->event->polls = 0; }
    pthread_mutex_unlock(&dev_mu);
    if (seq) *seq = at;
    return err;
}

static Op* new_op(int kind) {
    Op* op = calloc(1, sizeof *op);
    op->kind = kind;
    return op;
}

static CUresult plain_stream(CUstream s, const char* what) {
    if (!mock_stream_ok(s)) { MOCK_FAIL("%s on a null or unknown stream", what); return CUDA_ERROR_INVALID_HANDLE; }
    if (s->capture) { MOCK_FAIL("%s while the stream is being captured (not supported by the stand-in)", what); return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; }
    return CUDA_SUCCESS;
}

int mock_enqueue_kernel(CUstream s, const MockNode* node) {
    Op* op = new_op(OP_KERNEL);
    op->node = *node;
    return enqueue(s, op, NULL);
}

int mock_enqueue_graph(CUstream s, struct CUgraph_st* g) {
    Op* op = new_op(OP_GRAPH);
    op->graph = g;
    return enqueue(s, op, NULL);
}

/* -------------------------------------------------------------------------------- copies */

CUresult cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, CUstream s) {
    CUresult r = plain_stream(s, "cuMemsetD32Async");
    if (r) return r;
    if (mock_check_device((void*)(uintptr_t)p, 4 * n, "cuMemsetD32Async")) return CUDA_ERROR_INVALID_VALUE;
    Op* op = new_op(OP_MEMSET);
    op->dst = (void*)(uintptr_t)p; op->bytes = 4 * n; op->value = v;
    return enqueue(s, op, NULL) ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

/* From pinned memory the copy reads the source when it runs; from pageable memory CUDA stages the
 * source before returning, so the stand-in takes a snapshot. */
CUresult cuMemcpyHtoDAsync(CUdeviceptr d, const void* src, size_t n, CUstream s) {
    CUresult r = plain_stream(s, "cuMemcpyHtoDAsync");
    if (r) return r;
    if (mock_check_device((void*)(uintptr_t)d, n, "cuMemcpyHtoDAsync destination")) return CUDA_ERROR_INVALID_VALUE;
    if (mock_is_device(src)) { MOCK_FAIL("cuMemcpyHtoDAsync: the source is device memory"); return CUDA_ERROR_INVALID_VALUE; }
    Op* op = new_op(OP_COPY);
    op->dst = (void*)(uintptr_t)d; op->src = (void*)src; op->bytes = n;
    if (!is_pinned(src, n)) { op->owned = malloc(n ? n : 1); memcpy(op->owned, src, n); }
    return enqueue(s, op, NULL) ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

/* To pinned memory the copy is asynchronous (the host must wait before reading); to pageable memory CUDA
 * returns only once the copy is done. */
CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr s_, size_t n, CUstream s) {
    CUresult r = plain_stream(s, "cuMemcpyDtoHAsync");
    if (r) return r;
    if (mock_check_device((void*)(uintptr_t)s_, n, "cuMemcpyDtoHAsync source")) return CUDA_ERROR_INVALID_VALUE;
    if (mock_is_device(dst)) { MOCK_FAIL("cuMemcpyDtoHAsync: the destination is device memory"); return CUDA_ERROR_INVALID_VALUE; }
    Op* op = new_op(OP_COPY);
    op->dst = dst; op->src = (void*)(uintptr_t)s_; op->bytes = n;
    int pinned = is_pinned(dst, n);
    unsigned long long seq;
    if (enqueue(s, op, &seq)) return CUDA_ERROR_ILLEGAL_ADDRESS;
    if (pinned) return CUDA_SUCCESS;
    pthread_mutex_lock(&dev_mu);
    int e = wait_for(s, seq);
    pthread_mutex_unlock(&dev_mu);
    return e ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr d, CUdeviceptr s_, size_t n, CUstream s) {
    CUresult r = plain_stream(s, "cuMemcpyDtoDAsync");
    if (r) return r;
    if (mock_check_device((void*)(uintptr_t)d, n, "cuMemcpyDtoDAsync destination")
        || mock_check_device((void*)(uintptr_t)s_, n, "cuMemcpyDtoDAsync source")) return CUDA_ERROR_INVALID_VALUE;
    Op* op = new_op(OP_COPY);
    op->dst = (void*)(uintptr_t)d; op->src = (void*)(uintptr_t)s_; op->bytes = n;
    return enqueue(s, op, NULL) ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

/* -------------------------------------------------------------------------------- events */

struct CUevent_st* mock_event_new(void) {
    struct CUevent_st* e = calloc(1, sizeof *e);
    e->magic = EVENT_MAGIC;
    return e;
}
int mock_event_ok(struct CUevent_st* e) { return e && e->magic == EVENT_MAGIC; }
/* Never freed: a record still queued writes the event's time when it runs. */
void mock_event_destroy(struct CUevent_st* e) { e->magic = 0; }

int mock_event_record(struct CUevent_st* e, CUstream s) {
    Op* op = new_op(OP_RECORD);
    op->event = e;
    pthread_mutex_lock(&dev_mu);
    op->gen = e->gen + 1;
    pthread_mutex_unlock(&dev_mu);
    return enqueue(s, op, NULL);
}

/* 0: done (or never recorded), 1: not yet. */
int mock_event_query(struct CUevent_st* e) {
    pthread_mutex_lock(&dev_mu);
    int pending = e->stream && e->stream->queue->completed < e->seq;
    if (pending && ++e->polls >= POLL_PROGRESS) demand(e->stream); /* a host that keeps asking eventually sees it done */
    pthread_mutex_unlock(&dev_mu);
    return pending;
}

int mock_event_sync(struct CUevent_st* e) {
    pthread_mutex_lock(&dev_mu);
    int r = e->stream ? wait_for(e->stream, e->seq) : 0;
    pthread_mutex_unlock(&dev_mu);
    return r;
}

/* 0 and the milliseconds from a to b once both have run; 1 if either has not. */
int mock_event_elapsed(float* ms, struct CUevent_st* a, struct CUevent_st* b) {
    pthread_mutex_lock(&dev_mu);
    int done = a->stream && b->stream && a->stream->queue->completed >= a->seq && b->stream->queue->completed >= b->seq;
    if (done) *ms = (float)((b->t - a->t) * 1e3);
    pthread_mutex_unlock(&dev_mu);
    return !done;
}

/* s waits, on the device, for the work e's last record covers (nothing, if e was never recorded). */
int mock_stream_wait_event(CUstream s, struct CUevent_st* e) {
    pthread_mutex_lock(&dev_mu);
    CUstream on = e->stream;
    unsigned long long seq = e->seq;
    pthread_mutex_unlock(&dev_mu);
    if (!on || on == s) return 0; /* stream order already covers a record on s itself */
    Op* op = new_op(OP_WAIT);
    op->waits_on = on; op->seq = seq;
    return enqueue(s, op, NULL);
}

/* ---------------------------------------------------------------------------------- graphs */

struct CUgraph_st* mock_graph_new(void) {
    struct CUgraph_st* g = calloc(1, sizeof *g);
    g->magic = GRAPH_MAGIC;
    return g;
}
int mock_graph_ok(struct CUgraph_st* g) { return g && g->magic == GRAPH_MAGIC; }

/* Appends a node; every dependency must already be a node of g (so insertion order is a topological order). */
MockNode* mock_graph_add(struct CUgraph_st* g, int kind, const void* deps, size_t ndeps) {
    if (!mock_graph_ok(g)) { MOCK_FAIL("not a graph"); return NULL; }
    if (ndeps && !deps) { MOCK_FAIL("%zu dependencies but no array", ndeps); return NULL; }
    for (size_t d = 0; d < ndeps; d++) {
        MockNode* dep = ((MockNode* const*)deps)[d];
        int found = 0;
        for (int i = 0; i < g->n; i++) found |= g->nodes[i] == dep;
        if (!found) { MOCK_FAIL("dependency %zu is not a node of this graph", d); return NULL; }
    }
    if (g->n == g->cap) { g->cap = g->cap ? 2 * g->cap : 16; g->nodes = realloc(g->nodes, g->cap * sizeof *g->nodes); }
    MockNode* node = calloc(1, sizeof *node);
    node->kind = kind;
    node->owner = g;
    g->nodes[g->n++] = node;
    return node;
}

int mock_graph_nodes(const struct CUgraph_st* g) {
    int n = g->n;
    for (int i = 0; i < g->n; i++) if (g->nodes[i]->child) n += mock_graph_nodes(g->nodes[i]->child);
    return n;
}

/* Runs g's nodes in insertion order (a topological order); on a stream's worker. */
int mock_run_graph(struct CUgraph_st* g) {
    for (int i = 0; i < g->n; i++) {
        MockNode* node = g->nodes[i];
        int r = 0;
        switch (node->kind) {
            case NODE_KERNEL: r = mock_run_kernel(node); break;
            case NODE_CALLBACK: r = node->callback(node->data); break;
            case NODE_CHILD: r = mock_run_graph(node->child); break;
            case NODE_IF: if (*node->cond) r = mock_run_graph(node->child); break;
        }
        if (r) return r;
    }
    return 0;
}

static int enqueue_host_work(CUstream s, mock_callback_fn fn, void* data, int collective) {
    if (!mock_stream_ok(s)) return MOCK_FAIL("operation on a null or unknown stream");
    if (s->capture) {
        MockNode* node = mock_graph_add(s->capture, NODE_CALLBACK, NULL, 0);
        if (!node) return 1;
        node->callback = fn;
        node->data = data;
        node->collective = collective;
        return 0;
    }
    Op* op = new_op(OP_CALLBACK);
    op->fn = fn;
    op->data = data;
    return enqueue(s, op, NULL);
}

int mock_enqueue_callback(CUstream s, mock_callback_fn fn, void* data) { return enqueue_host_work(s, fn, data, 0); }

int mock_enqueue_collective(CUstream s, mock_callback_fn fn, void* data) { return enqueue_host_work(s, fn, data, 1); }
