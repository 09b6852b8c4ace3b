/*
 * libcublas.so.13 stand-in: handles (charged as device memory), stream, workspace, math mode, and
 * cublasSgemm_v2 with the real column-major semantics (both transposes, leading dimensions checked as
 * cuBLAS checks them, alpha and beta read from host memory at the call, beta = 0 ignoring C's old
 * contents), queued on the handle's stream, or recorded as a graph node when that stream is being
 * captured. In TF32 mode (CUBLAS_TF32_TENSOR_OP_MATH, set when the GEMM is called) A and B are read rounded to
 * TF32 (mock_tf32), as tensor cores take them; otherwise in fp32. cublasGemmEx on fp32 matrices with the
 * compute types sam4j uses (bf16 runs: CUBLAS_COMPUTE_32F_FAST_16BF, inputs read rounded to bf16).
 */
#include "mock.h"
#include "devices.h"

typedef struct { int magic; CUstream stream; int math; void* workspace; size_t workspace_bytes; } Handle;

/* Device memory a handle takes (its default workspace and state), as the stand-in charges it: a model. */
#define HANDLE_BYTES (4ll << 20)

int cublasCreate_v2(Handle** h) {
    if (mock_charge(HANDLE_BYTES)) return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
    *h = calloc(1, sizeof(Handle));
    (*h)->magic = 1;
    mock_owner_set(*h);
    return 0;
}
int cublasDestroy_v2(Handle* h) {
    if (!h || h->magic != 1) return 1;
    h->magic = 0;
    mock_owner_forget(h);
    mock_charge(-HANDLE_BYTES);
    return 0;
}
int cublasSetStream_v2(Handle* h, CUstream s) { if (!mock_stream_ok(s)) return 7; h->stream = s; return 0; }
int cublasSetWorkspace_v2(Handle* h, void* ws, size_t bytes) {
    if (mock_check_device(ws, bytes, "cublasSetWorkspace_v2")) return 7;
    h->workspace = ws; h->workspace_bytes = bytes; return 0;
}
int cublasGetVersion_v2(Handle* h, int* v) { *v = 130000; return 0; }
int cublasSetMathMode(Handle* h, int mode) { h->math = mode; return 0; }
const char* cublasGetStatusName(int s) { return s == 0 ? "CUBLAS_STATUS_SUCCESS" : s == 7 ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS (stand-in)"; }

/* ab16 / c16: A and B, or C, hold bf16 values in 16 bits (CUDA_R_16BF), read widened and C written rounded */
typedef struct { int ta, tb, m, n, k, lda, ldb, ldc; float alpha, beta; const void *A, *B; void* C; int rounding, ab16, c16; } Gemm;

#define CUBLAS_TF32_TENSOR_OP_MATH 3
#define CUDA_R_32F 0
#define CUDA_R_16BF 14
#define CUBLAS_COMPUTE_32F 68
#define CUBLAS_COMPUTE_32F_FAST_16BF 75
#define CUBLAS_COMPUTE_32F_FAST_TF32 77
#define CUBLAS_GEMM_DEFAULT (-1)
#define CUBLAS_GEMM_DEFAULT_TENSOR_OP 99
enum { EXACT, TO_TF32, TO_BF16 }; /* how the inputs are read: as given, rounded to TF32, rounded to bf16 */

static int run_gemm(void* data) {
    Gemm* g = data;
    /* column-major: op(A) is m×k, op(B) is k×n, C is m×n; element (i, j) of X is X[i + j·ld] */
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m; i++) {
            double acc = 0;
            for (int p = 0; p < g->k; p++) {
                size_t ai = g->ta ? p + (size_t)i * g->lda : i + (size_t)p * g->lda, bi = g->tb ? j + (size_t)p * g->ldb : p + (size_t)j * g->ldb;
                float a = g->ab16 ? mock_from_bf16(((const uint16_t*)g->A)[ai]) : ((const float*)g->A)[ai];
                float b = g->ab16 ? mock_from_bf16(((const uint16_t*)g->B)[bi]) : ((const float*)g->B)[bi];
                if (g->rounding == TO_TF32) { a = mock_tf32(a); b = mock_tf32(b); }
                else if (g->rounding == TO_BF16) { a = mock_bf16(a); b = mock_bf16(b); }
                acc += (double)a * b;
            }
            size_t ci = i + (size_t)j * g->ldc;
            if (g->c16) {
                uint16_t* c = &((uint16_t*)g->C)[ci];
                *c = mock_to_bf16(g->beta == 0 ? (float)(g->alpha * acc) : (float)(g->alpha * acc + g->beta * mock_from_bf16(*c)));
            } else {
                float* c = &((float*)g->C)[ci];
                *c = g->beta == 0 ? (float)(g->alpha * acc) : (float)(g->alpha * acc + g->beta * *c);
            }
        }
    return 0;
}

/* The checks and the queueing both GEMM entry points share; fn names the caller in messages. */
static int gemm_typed(const char* fn, Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const void* A, int lda,
                      const void* B, int ldb, const float* beta, void* C, int ldc, int rounding, int ab16, int c16) {
    size_t ab = ab16 ? 2 : 4, cb = c16 ? 2 : 4;
    if (!h || h->magic != 1 || !h->stream) return MOCK_FAIL("%s: bad handle or no stream", fn) ? 1 : 1;
    if (mock_wrong_device(h, fn)) return 14; /* CUBLAS_STATUS_EXECUTION_FAILED */
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return MOCK_FAIL("%s: unsupported op", fn) ? 7 : 7;
    int rowsA = ta ? k : m, rowsB = tb ? n : k;
    if (m < 0 || n < 0 || k < 0 || lda < (rowsA > 1 ? rowsA : 1) || ldb < (rowsB > 1 ? rowsB : 1) || ldc < (m > 1 ? m : 1))
        return MOCK_FAIL("%s: invalid sizes m=%d n=%d k=%d lda=%d ldb=%d ldc=%d (ops %d %d)", fn, m, n, k, lda, ldb, ldc, ta, tb) ? 7 : 7;
    if (m == 0 || n == 0) return 0;
    /* alpha and beta live in host memory (the default pointer mode); A, B, C on the device */
    if (mock_is_device(alpha) || mock_is_device(beta))
        return MOCK_FAIL("%s: alpha/beta point to device memory but the pointer mode is host", fn) ? 7 : 7;
    int colsA = ta ? m : k, colsB = tb ? k : n;
    if (k > 0 && (mock_check_device(A, ab * ((size_t)(colsA - 1) * lda + rowsA), "GEMM A")
                  || mock_check_device(B, ab * ((size_t)(colsB - 1) * ldb + rowsB), "GEMM B"))) return 14;
    if (mock_check_device(C, cb * ((size_t)(n - 1) * ldc + m), "GEMM C")) return 14;
    Gemm* g = malloc(sizeof *g);
    *g = (Gemm){ta, tb, m, n, k, lda, ldb, ldc, *alpha, *beta, A, B, C, rounding, ab16, c16};
    return mock_enqueue_callback(h->stream, run_gemm, g) ? 14 : 0;
}

static int gemm(const char* fn, Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                const float* B, int ldb, const float* beta, float* C, int ldc, int rounding) {
    return gemm_typed(fn, h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, rounding, 0, 0);
}

int cublasSgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                   const float* B, int ldb, const float* beta, float* C, int ldc) {
    int rounding = h && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? TO_TF32 : EXACT;
    return gemm("cublasSgemm_v2", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, rounding);
}

/*
 * cublasGemmEx on fp32 matrices (the only types the stand-in takes; others are refused, so host code that passes
 * another type fails here): CUBLAS_COMPUTE_32F_FAST_16BF reads A and B rounded to bf16 (mock_bf16), _FAST_TF32 to
 * TF32, CUBLAS_COMPUTE_32F as cublasSgemm_v2 does under the handle's math mode.
 */
int cublasGemmEx(Handle* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int atype, int lda,
                 const void* B, int btype, int ldb, const void* beta, void* C, int ctype, int ldc, int compute, int algo) {
    if (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP)
        return MOCK_FAIL("cublasGemmEx: algorithm %d (the stand-in has the default ones only)", algo) ? 7 : 7;
    if (atype == CUDA_R_16BF || btype == CUDA_R_16BF) {
        /* native bf16: A and B bf16, C bf16 or fp32, fp32 compute (cuBLAS's CUDA_R_16BF configurations) */
        if (atype != CUDA_R_16BF || btype != CUDA_R_16BF || (ctype != CUDA_R_16BF && ctype != CUDA_R_32F))
            return MOCK_FAIL("cublasGemmEx: bf16 A and B want each other and a bf16 or fp32 C, got types %d %d %d", atype, btype, ctype) ? 15 : 15;
        if (compute != CUBLAS_COMPUTE_32F)
            return MOCK_FAIL("cublasGemmEx: bf16 matrices with compute type %d (sam4j uses CUBLAS_COMPUTE_32F)", compute) ? 7 : 7;
        return gemm_typed("cublasGemmEx", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, EXACT, 1, ctype == CUDA_R_16BF);
    }
    if (atype != CUDA_R_32F || btype != CUDA_R_32F || ctype != CUDA_R_32F)
        return MOCK_FAIL("cublasGemmEx: the stand-in takes CUDA_R_32F or CUDA_R_16BF matrices only, got types %d %d %d", atype, btype, ctype) ? 15 : 15;
    int rounding;
    if (compute == CUBLAS_COMPUTE_32F_FAST_16BF) rounding = TO_BF16;
    else if (compute == CUBLAS_COMPUTE_32F_FAST_TF32) rounding = TO_TF32;
    else if (compute == CUBLAS_COMPUTE_32F) rounding = h && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? TO_TF32 : EXACT;
    else return MOCK_FAIL("cublasGemmEx: compute type %d is not one for fp32 matrices", compute) ? 7 : 7;
    return gemm("cublasGemmEx", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, rounding);
}
