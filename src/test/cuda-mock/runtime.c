/*
 * libcudart.so.13 stand-in: two devices ("sam4j CPU stand-in"; the current device is per thread, and
 * streams, events and graphs belong to the device that made them, checked at each call, see devices.h),
 * versions 13.0, device memory as the driver stand-in counts it (cudaMemGetInfo), streams with capture
 * (cudaStreamBeginCapture, ...ToGraph, EndCapture), events recorded and waited for on the device
 * (device.c), pinned memory, graphs: creation, conditional handles, the IF node via cudaGraphAddNode
 * (checking the parameter block as strictly as the real library: reserved and unused bytes zero), child
 * graphs, instantiation (charged as device memory) and launch, queued on the stream (conditions reset to
 * their default when it runs, where asked for).
 */
#include "mock.h"
#include "devices.h"
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

cudaError_t cudaGetDeviceCount(int* n) { *n = mock_device_count(); return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return mock_set_current_device(d) ? cudaErrorInvalidDevice : cudaSuccess; }
cudaError_t cudaFree(void* p) { return p ? cudaErrorInvalidValue : cudaSuccess; /* only cudaFree(NULL), to create the context */ }
cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
/* The memory figures are an H100's (HBM3, 5120-bit bus at 2619 MHz; 50 MiB of L2), so that benchmarks' arithmetic has real inputs. */
cudaError_t cudaDeviceGetAttribute(int* v, enum cudaDeviceAttr a, int d) {
    if (d < 0 || d >= mock_device_count()) return cudaErrorInvalidDevice;
    switch (a) {
        case cudaDevAttrComputeCapabilityMajor: *v = mock_compute_capability(d) / 10; break;
        case cudaDevAttrComputeCapabilityMinor: *v = mock_compute_capability(d) % 10; break;
        case cudaDevAttrMemoryClockRate: *v = 2619000; break;
        case cudaDevAttrGlobalMemoryBusWidth: *v = 5120; break;
        case cudaDevAttrL2CacheSize: *v = 50 << 20; break;
        default: MOCK_FAIL("cudaDeviceGetAttribute: attribute %d is not emulated", (int)a); return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* p, int d) {
    if (d < 0 || d >= mock_device_count()) return cudaErrorInvalidDevice;
    memset(p, 0, sizeof *p);
    strcpy(p->name, "sam4j CPU stand-in (not a GPU)");
    p->major = mock_compute_capability(d) / 10; p->minor = mock_compute_capability(d) % 10; p->multiProcessorCount = 4; p->totalGlobalMem = 8ull << 30;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { mock_mem_info(f, t); return cudaSuccess; }

/* ------------------------------------------------------------------------ streams and events */

static cudaError_t sticky(int e) { return e ? cudaErrorIllegalAddress : cudaSuccess; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
    if (flags != cudaStreamNonBlocking) return cudaErrorInvalidValue; /* sam4j always asks for a non-blocking stream */
    *s = mock_stream_new();
    if (!*s) return cudaErrorMemoryAllocation;
    mock_owner_set(*s);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    if (mock_stream_destroy(s)) return cudaErrorInvalidResourceHandle;
    mock_owner_forget(s);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    if (!mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (s->capture) { MOCK_FAIL("cudaStreamSynchronize while capturing: a host sync inside a graph"); return cudaErrorStreamCaptureUnsupported; }
    return sticky(mock_stream_sync(s));
}
cudaError_t cudaDeviceSynchronize(void) { return sticky(mock_device_sync()); }

cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = mock_event_new(); mock_owner_set(*e); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
    if (flags & ~(unsigned)(cudaEventDisableTiming | cudaEventBlockingSync)) return cudaErrorInvalidValue;
    return cudaEventCreate(e);
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    if (!mock_event_ok(e)) return cudaErrorInvalidResourceHandle;
    mock_event_destroy(e);
    mock_owner_forget(e);
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!mock_event_ok(e) || !mock_stream_ok(s) || s->capture) return cudaErrorInvalidResourceHandle;
    /* checked here, at the call: the worker that later runs the record has no current device of the caller's */
    if (mock_owner(e) != mock_owner(s)) { MOCK_FAIL("cudaEventRecord: the event belongs to device %d, the stream to device %d", mock_owner(e), mock_owner(s)); return cudaErrorInvalidResourceHandle; }
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
    if (!mock_stream_ok(s) || mock_wrong_device(s, "cudaStreamBeginCapture")) return cudaErrorInvalidResourceHandle;
    if (s->capture) return cudaErrorIllegalState;
    s->capture = mock_graph_new();
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCaptureToGraph(cudaStream_t s, cudaGraph_t g, const cudaGraphNode_t* deps,
                                          const cudaGraphEdgeData* edges, size_t ndeps, enum cudaStreamCaptureMode mode) {
    if (!mock_stream_ok(s) || !mock_graph_ok(g) || mock_wrong_device(s, "cudaStreamBeginCaptureToGraph")) return cudaErrorInvalidResourceHandle;
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

/* in_body: g is (inside) a conditional node's body, where NCCL's collectives fail to instantiate (NVIDIA/nccl
 * issue 1986: "conditional nodes do not support EVENT_WAIT nodes"), so the stand-in refuses them there too. */
static int check_graph(struct CUgraph_st* g, int in_body) {
    for (int i = 0; i < g->n; i++) {
        MockNode* n = g->nodes[i];
        if (n->kind == NODE_IF && n->child->n == 0) return MOCK_FAIL("cudaGraphInstantiate: an IF node has an empty body");
        if (in_body && n->kind == NODE_CALLBACK && n->collective) {
            return MOCK_FAIL("cudaGraphInstantiate: an NCCL collective inside a conditional node's body (NCCL's fail to "
                             "instantiate there: NVIDIA/nccl issue 1986); keep collectives in the graph's main body");
        }
        if ((n->kind == NODE_IF || n->kind == NODE_CHILD) && check_graph(n->child, in_body || n->kind == NODE_IF)) return 1;
    }
    return 0;
}
/* What an executable graph takes in device memory, as the stand-in charges it (a model, not a measurement). */
static long long exec_bytes(struct CUgraph_st* g) { return (64ll << 10) + (1ll << 10) * mock_graph_nodes(g); }

struct CUgraphExec_st { int magic; struct CUgraph_st* g; long long bytes; };
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long flags) {
    if (!mock_graph_ok(g) || check_graph(g, 0)) return cudaErrorInvalidValue;
    long long bytes = exec_bytes(g);
    if (mock_charge(bytes)) return cudaErrorMemoryAllocation;
    *e = calloc(1, sizeof(struct CUgraphExec_st));
    (*e)->magic = 1;
    (*e)->g = g;
    (*e)->bytes = bytes;
    mock_owner_set(*e);
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
    if (!e || e->magic != 1 || !mock_stream_ok(s)) return cudaErrorInvalidResourceHandle;
    if (mock_wrong_device(e, "cudaGraphLaunch") || mock_wrong_device(s, "cudaGraphLaunch")) return cudaErrorInvalidResourceHandle;
    if (s->capture) { MOCK_FAIL("cudaGraphLaunch into a capturing stream is not emulated"); return cudaErrorStreamCaptureUnsupported; }
    return sticky(mock_enqueue_graph(s, e->g));
}
/* A launch still queued keeps running: the stand-in never frees a graph's nodes. */
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
    if (!e || e->magic != 1) return cudaErrorInvalidResourceHandle;
    e->magic = 0;
    mock_owner_forget(e);
    mock_charge(-e->bytes);
    return cudaSuccess;
}
