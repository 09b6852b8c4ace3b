/*
 * libcudart.so.13 stand-in: one device ("sam4j CPU stand-in"), versions 13.0, device memory as the
 * driver stand-in counts it (cudaMemGetInfo), streams with capture (cudaStreamBeginCapture,
 * ...ToGraph, EndCapture), events recorded and waited for on the device (device.c), pinned memory,
 * graphs: creation, conditional handles, the IF node via cudaGraphAddNode (checking the parameter block
 * as strictly as the real library: reserved and unused bytes zero), child graphs, instantiation (charged
 * as device memory) and launch, queued on the stream (conditions reset to their default when it runs,
 * where asked for).
 */
#include "mock.h"
#include <cuda_runtime_api.h>

int sam4j_cuda_stand_in = 1;

static const char* error_name(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
        case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
        case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
        case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
        default: return "cudaError (stand-in)";
    }
}
const char* cudaGetErrorName(cudaError_t e) { return error_name(e); }

static int current_device;
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { if (d != 0) return cudaErrorInvalidDevice; current_device = d; return cudaSuccess; }
cudaError_t cudaFree(void* p) { return p ? cudaErrorInvalidValue : cudaSuccess; /* only cudaFree(NULL), to create the context */ }
cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* p, int d) {
    if (d != 0) return cudaErrorInvalidDevice;
    memset(p, 0, sizeof *p);
    strcpy(p->name, "sam4j CPU stand-in (not a GPU)");
    p->major = 9; p->minor = 0; p->multiProcessorCount = 4; p->totalGlobalMem = 8ull << 30;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { mock_mem_info(f, t); return cudaSuccess; }

/* ------------------------------------------------------------------------ streams and events */

static cudaError_t sticky(int e) { return e ? cudaErrorIllegalAddress : cudaSuccess; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
    if (flags != cudaStreamNonBlocking) return cudaErrorInvalidValue; /* sam4j always asks for a non-blocking stream */
    *s = mock_stream_new();
    return *s ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) { return mock_stream_destroy(s) ? cudaErrorInvalidResourceHandle : cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    if (!mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (s->capture) { MOCK_FAIL("cudaStreamSynchronize while capturing: a host sync inside a graph"); return cudaErrorStreamCaptureUnsupported; }
    return sticky(mock_stream_sync(s));
}
cudaError_t cudaDeviceSynchronize(void) { return sticky(mock_device_sync()); }

cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = mock_event_new(); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
    if (flags & ~(unsigned)(cudaEventDisableTiming | cudaEventBlockingSync)) return cudaErrorInvalidValue;
    return cudaEventCreate(e);
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!mock_event_ok(e)) return cudaErrorInvalidResourceHandle;
    mock_event_destroy(e);
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!mock_event_ok(e) || !mock_stream_ok(s) || s->capture) return cudaErrorInvalidResourceHandle;
    return sticky(mock_event_record(e, s));
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
    if (!mock_event_ok(e)) return cudaErrorInvalidResourceHandle;
    return mock_event_query(e) ? cudaErrorNotReady : cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    if (!mock_event_ok(e) || !mock_stream_ok(s) || flags) return cudaErrorInvalidResourceHandle;
    if (s->capture) { MOCK_FAIL("cudaStreamWaitEvent while capturing: sam4j orders input copies outside the step graph"); return cudaErrorStreamCaptureUnsupported; }
    return sticky(mock_stream_wait_event(s, e));
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return mock_event_ok(e) ? sticky(mock_event_sync(e)) : cudaErrorInvalidResourceHandle; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
    if (!mock_event_ok(a) || !mock_event_ok(b)) return cudaErrorInvalidResourceHandle;
    return mock_event_elapsed(ms, a, b) ? cudaErrorNotReady : cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t n) { *p = mock_host_alloc(n); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
cudaError_t cudaFreeHost(void* p) { return mock_host_free(p) ? cudaErrorInvalidValue : cudaSuccess; }

/* ----------------------------------------------------------------------------------- capture */

cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode mode) {
    if (!mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (s->capture) return cudaErrorIllegalState;
    s->capture = mock_graph_new();
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCaptureToGraph(cudaStream_t s, cudaGraph_t g, const cudaGraphNode_t* deps,
                                          const cudaGraphEdgeData* edges, size_t ndeps, enum cudaStreamCaptureMode mode) {
    if (!mock_stream_ok(s) || !mock_graph_ok(g)) return cudaErrorInvalidResourceHandle;
    if (s->capture) return cudaErrorIllegalState;
    if (ndeps || deps || edges) { MOCK_FAIL("cudaStreamBeginCaptureToGraph: dependencies are not supported by the stand-in"); return cudaErrorInvalidValue; }
    s->capture = g;
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
    if (!mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (!s->capture) return cudaErrorIllegalState;
    *g = s->capture;
    s->capture = NULL;
    return cudaSuccess;
}

/* ------------------------------------------------------------------------------------ graphs */

cudaError_t cudaGraphCreate(cudaGraph_t* g, unsigned flags) { if (flags) return cudaErrorInvalidValue; *g = mock_graph_new(); return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) { if (!mock_graph_ok(g)) return cudaErrorInvalidResourceHandle; g->magic = 0; return cudaSuccess; }

cudaError_t cudaGraphConditionalHandleCreate(cudaGraphConditionalHandle* h, cudaGraph_t g, unsigned def, unsigned flags) {
    if (!mock_graph_ok(g) || g->ncond == 16) return cudaErrorInvalidValue;
    unsigned* cell = malloc(sizeof *cell);
    *cell = def;
    g->conds[g->ncond] = cell; g->defaults[g->ncond] = def; g->assign_default[g->ncond] = (flags & cudaGraphCondAssignDefault) != 0;
    g->ncond++;
    *h = (cudaGraphConditionalHandle)(uintptr_t)cell;
    return cudaSuccess;
}

cudaError_t cudaGraphAddNode(cudaGraphNode_t* out, cudaGraph_t g, const cudaGraphNode_t* deps, const cudaGraphEdgeData* edges,
                             size_t ndeps, struct cudaGraphNodeParams* p) {
    if (edges) { MOCK_FAIL("cudaGraphAddNode: edge data is not supported by the stand-in"); return cudaErrorInvalidValue; }
    const unsigned char* raw = (const unsigned char*)p;
    for (int i = 4; i < 16; i++) if (raw[i]) { MOCK_FAIL("cudaGraphAddNode: reserved bytes not zero"); return cudaErrorInvalidValue; }
    for (int i = 48; i < 256; i++) if (raw[i]) { MOCK_FAIL("cudaGraphAddNode: unused byte %d not zero", i); return cudaErrorInvalidValue; }
    if (p->type != cudaGraphNodeTypeConditional) { MOCK_FAIL("cudaGraphAddNode: only conditional nodes are emulated"); return cudaErrorInvalidValue; }
    struct cudaConditionalNodeParams* c = &p->conditional;
    unsigned* cell = (unsigned*)(uintptr_t)c->handle;
    int known = 0;
    for (int i = 0; i < g->ncond; i++) known |= g->conds[i] == cell;
    if (!known) { MOCK_FAIL("cudaGraphAddNode: the handle was not created for this graph"); return cudaErrorInvalidValue; }
    if (c->type != cudaGraphCondTypeIf || c->size != 1 || c->phGraph_out) { MOCK_FAIL("cudaGraphAddNode: bad IF parameters"); return cudaErrorInvalidValue; }
    MockNode* node = mock_graph_add(g, NODE_IF, deps, ndeps);
    if (!node) return cudaErrorInvalidValue;
    node->cond = cell;
    node->child = mock_graph_new();
    cudaGraph_t* bodies = malloc(sizeof(cudaGraph_t));
    bodies[0] = node->child;
    c->phGraph_out = bodies;
    *out = (cudaGraphNode_t)node;
    return cudaSuccess;
}

cudaError_t cudaGraphAddChildGraphNode(cudaGraphNode_t* out, cudaGraph_t g, const cudaGraphNode_t* deps, size_t ndeps, cudaGraph_t child) {
    if (!mock_graph_ok(child)) return cudaErrorInvalidValue;
    if (child->ncond) { MOCK_FAIL("child graph owns conditional handles"); return cudaErrorInvalidValue; }
    MockNode* node = mock_graph_add(g, NODE_CHILD, deps, ndeps);
    if (!node) return cudaErrorInvalidValue;
    node->child = child;
    *out = (cudaGraphNode_t)node;
    return cudaSuccess;
}

static int check_graph(struct CUgraph_st* g) {
    for (int i = 0; i < g->n; i++) {
        MockNode* n = g->nodes[i];
        if (n->kind == NODE_IF && n->child->n == 0) return MOCK_FAIL("cudaGraphInstantiate: an IF node has an empty body");
        if ((n->kind == NODE_IF || n->kind == NODE_CHILD) && check_graph(n->child)) return 1;
    }
    return 0;
}
/* What an executable graph takes in device memory, as the stand-in charges it (a model, not a measurement). */
static long long exec_bytes(struct CUgraph_st* g) { return (64ll << 10) + (1ll << 10) * mock_graph_nodes(g); }

struct CUgraphExec_st { int magic; struct CUgraph_st* g; long long bytes; };
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long flags) {
    if (!mock_graph_ok(g) || check_graph(g)) return cudaErrorInvalidValue;
    long long bytes = exec_bytes(g);
    if (mock_charge(bytes)) return cudaErrorMemoryAllocation;
    *e = calloc(1, sizeof(struct CUgraphExec_st));
    (*e)->magic = 1;
    (*e)->g = g;
    (*e)->bytes = bytes;
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
    if (!e || e->magic != 1 || !mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (s->capture) { MOCK_FAIL("cudaGraphLaunch into a capturing stream is not emulated"); return cudaErrorStreamCaptureUnsupported; }
    return sticky(mock_enqueue_graph(s, e->g));
}
/* A launch still queued keeps running: the stand-in never frees a graph's nodes. */
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
    if (!e || e->magic != 1) return cudaErrorInvalidResourceHandle;
    e->magic = 0;
    mock_charge(-e->bytes);
    return cudaSuccess;
}
