/*
 * sam4j's CPU stand-ins for the CUDA libraries: test scaffolding, never shipped (see README.md).
 *
 * Shared by the stand-in libraries. libcuda.so.1 (driver.c) owns memory, streams, graphs and the kernel
 * emulations; libcudart.so.13 (runtime.c) and libcublas.so.13 (cublas.c) link to it and use the mock_*
 * functions below, so that a cuBLAS call made while a stream is being captured becomes a graph node,
 * exactly as on a GPU.
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

struct CUstream_st {
    int magic;
    struct CUgraph_st* capture; /* non-null while capturing */
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
int mock_stream_ok(CUstream s);
struct CUgraph_st* mock_graph_new(void);
int mock_graph_ok(struct CUgraph_st* g);
MockNode* mock_graph_add(struct CUgraph_st* g, int kind, const void* deps, size_t ndeps);
int mock_run_graph(struct CUgraph_st* g);
/* Runs fn(data) now, or records it on the graph the stream is capturing (data is then kept). */
int mock_enqueue_callback(CUstream s, mock_callback_fn fn, void* data);
/* 0 if [p, p + bytes) lies inside one live device allocation (or is pinned host memory for copies). */
int mock_check_device(const void* p, size_t bytes, const char* what);
/* Whether p lies inside a live device allocation (no message). */
int mock_is_device(const void* p);
