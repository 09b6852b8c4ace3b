/*
 * sam4j's CPU stand-ins for the CUDA libraries: test scaffolding, never shipped (see README.md).
 *
 * Shared by the stand-in libraries. libcuda.so.1 owns the device: device.c its runtime model (memory,
 * streams run by worker threads, events, graphs), driver.c the kernel emulations. libcudart.so.13
 * (runtime.c), libcublas.so.13 (cublas.c) and the cuDNN libraries (cudnn.c) link to it and use the mock_*
 * functions below, so that a library call is queued on its stream like a kernel, and becomes a graph
 * node when the stream is being captured, exactly as on a GPU.
 */
#pragma once
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_MAX_ARGS 16

/* A kernel emulation: returns 0, or non-zero after printing why (bad pointer, bad launch shape). */
typedef int (*mock_kernel_fn)(unsigned grid, unsigned block, void** args);

typedef struct MockKernel {
    const char* name;
    const char* signature; /* P pointer / long long, I int, F float, D double: as in CudaKernels.java */
    mock_kernel_fn run;
} MockKernel;

/* A host-side operation recorded into a graph (cuBLAS calls made during capture). */
typedef int (*mock_callback_fn)(void* data);

enum { NODE_KERNEL = 1, NODE_CALLBACK, NODE_CHILD, NODE_IF };

struct CUgraph_st;

typedef struct MockNode {
    int kind;
    struct CUgraph_st* owner;
    const MockKernel* kernel;
    unsigned grid, block;
    unsigned char args[MOCK_MAX_ARGS][8];
    mock_callback_fn callback;
    void* data;
    struct CUgraph_st* child; /* NODE_CHILD: the child graph; NODE_IF: the body */
    unsigned* cond;           /* NODE_IF */
    int collective;           /* NODE_CALLBACK: an NCCL collective (refused inside a conditional body) */
} MockNode;

struct CUgraph_st {
    int magic;
    MockNode** nodes;
    int n, cap;
    unsigned* conds[16];
    unsigned defaults[16];
    int assign_default[16];
    int ncond;
};

struct MockQueue; /* device.c: the stream's queue and its worker thread */

struct CUstream_st {
    int magic;
    struct CUgraph_st* capture; /* non-null while capturing */
    struct MockQueue* queue;
};

#define GRAPH_MAGIC 0x47524150
#define STREAM_MAGIC 0x5354524d

#include <stdarg.h>
/* Says what went wrong on stderr (Surefire keeps it in the test's output) and returns 1. */
static inline int mock_fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("CUDA stand-in: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}
#define MOCK_FAIL(...) mock_fail(__VA_ARGS__)

/* exported by libcuda.so.1 for the other stand-ins */

/* memory (device.c) */
/* 0 if [p, p + bytes) lies inside one live device allocation, else 1 after saying why. */
int mock_check_device(const void* p, size_t bytes, const char* what);
/* Whether p lies inside a live device allocation (no message). */
int mock_is_device(const void* p);
/* Device memory a library holds besides cuMemAlloc blocks (negative: gives it back); 1 if it does not fit. */
int mock_charge(long long bytes);
void mock_mem_info(size_t* free_bytes, size_t* total_bytes);
void* mock_host_alloc(size_t bytes); /* pinned host memory */
int mock_host_free(void* p);         /* waits for the device first, as cudaFreeHost does */

/* streams and events (device.c): ops run on the stream's worker, lazily (see device.c) */
int mock_stream_ok(CUstream s);
CUstream mock_stream_new(void);
int mock_stream_destroy(CUstream s);
/* The blocking calls return 0 or the stream's sticky error (700, illegal address) once an operation failed. */
int mock_stream_sync(CUstream s);
int mock_device_sync(void);
int mock_enqueue_kernel(CUstream s, const MockNode* node);
int mock_enqueue_graph(CUstream s, struct CUgraph_st* g);
/* Queues fn(data) (data is freed after it ran), or records it on the graph the stream is capturing (data is then kept). */
int mock_enqueue_callback(CUstream s, mock_callback_fn fn, void* data);
/* The same for an NCCL collective: while capturing, its node is marked, so that instantiating a graph with one
 * inside a conditional node's body fails as NCCL's does (NVIDIA/nccl issue 1986). */
int mock_enqueue_collective(CUstream s, mock_callback_fn fn, void* data);
struct CUevent_st* mock_event_new(void);
int mock_event_ok(struct CUevent_st* e);
void mock_event_destroy(struct CUevent_st* e);
int mock_event_record(struct CUevent_st* e, CUstream s);
int mock_event_query(struct CUevent_st* e); /* 0 done or never recorded, 1 not yet */
int mock_event_sync(struct CUevent_st* e);
int mock_event_elapsed(float* ms, struct CUevent_st* a, struct CUevent_st* b); /* 1 if either has not run yet */
int mock_stream_wait_event(CUstream s, struct CUevent_st* e);

/* graphs (device.c) */
struct CUgraph_st* mock_graph_new(void);
int mock_graph_ok(struct CUgraph_st* g);
MockNode* mock_graph_add(struct CUgraph_st* g, int kind, const void* deps, size_t ndeps);
int mock_graph_nodes(const struct CUgraph_st* g); /* nodes, child graphs' and bodies' included */
int mock_run_graph(struct CUgraph_st* g);

/* kernels (driver.c): the one entry point by which a worker runs a kernel node */
int mock_run_kernel(const MockNode* node);

/*
 * x rounded to TF32 (fp32's exponent, 10 mantissa bits), to nearest with ties to even, NaN kept: how the
 * stand-ins emulate tensor-core TF32 math (the inputs of a GEMM or convolution rounded, products accumulated
 * as before). The same rounding as sam4j's CPU emulation (Precision.TF32); a GPU may round ties away or truncate.
 */
static inline float mock_tf32(float x) {
    if (x != x) return x;
    uint32_t b;
    memcpy(&b, &x, 4);
    b = (b + 0xFFFu + ((b >> 13) & 1u)) & ~0x1FFFu;
    memcpy(&x, &b, 4);
    return x;
}

/* x rounded to bf16 (fp32's exponent, 7 mantissa bits), to nearest with ties to even, NaN kept (Precision.BF16). */
static inline float mock_bf16(float x) {
    if (x != x) return x;
    uint32_t b;
    memcpy(&b, &x, 4);
    b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
    memcpy(&x, &b, 4);
    return x;
}

/* bf16 storage, as the kernels' to_bf16 / from_bf16 (common.cuh): the top half of the rounded float; a NaN
 * becomes the quiet NaN of its sign. */
static inline uint16_t mock_to_bf16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if (x != x) return (uint16_t)((b >> 16) | 0x7FC0u);
    x = mock_bf16(x);
    memcpy(&b, &x, 4);
    return (uint16_t)(b >> 16);
}
static inline float mock_from_bf16(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}
