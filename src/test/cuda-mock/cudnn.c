/*
 * The four cuDNN 9 libraries JavaCPP's cuDNN JNI library links (graph, ops, cnn, adv), built from this one
 * file: each function is compiled into the library whose versioned symbol the JNI library imports
 * (handle in graph; tensor, filter, pooling descriptors, pooling, batch norm, cudnnAddTensor in ops;
 * convolution in cnn). Real float math in double accumulators, on NCHW or NHWC (channels-last) tensors and
 * KCRS or KRSC filters (a convolution's three descriptors must share one format, as sam4j calls it); descriptors and arguments checked as
 * strictly as we can (shapes agree, data on the device, workspace large enough, no Find while capturing),
 * so that a wrong call fails here in CI instead of on a GPU. Work goes through mock_enqueue_callback: it is
 * queued on the handle's stream, and a call made while the stream is captured becomes a graph node, as on
 * a GPU. Handles and Find's scratch are charged as device memory (mock_charge).
 *
 * Find reports three algorithms: 1, the "fastest", wants a workspace (it scribbles NaN over it, as real
 * scratch use would) and is reported non-deterministic, as the atomics-based ones are on a GPU; 0 and 2
 * want none and are deterministic, and 2 adds in another order (in float, last term first), so that a
 * change of algorithm changes the last bits as it does on a GPU. So the workspace plumbing, the fallback
 * and the deterministic filter are all exercised. The settings of devices.h change Find's ranking
 * (cudnn.fastest), make algorithm 1 add in a different order at every call (cudnn.noise), and make
 * cudnnCreate fail or cudnnGetVersion report another version.
 */
#include "mock.h"
#include "devices.h"
#include <math.h>

enum { OK = 0, NOT_INITIALIZED = 1001, ALLOC_FAILED = 1002, BAD_PARAM = 2000, NOT_SUPPORTED = 3000, EXEC_FAILED = 5000 };
enum { TENSOR = 0x54454e53, FILTER = 0x46494c54, CONVD = 0x434f4e56, POOLD = 0x504f4f4c, HANDLE = 0x444e4e48 };

typedef struct { int magic; CUstream stream; } Handle;
/* fmt: 0 = CUDNN_TENSOR_NCHW, 1 = CUDNN_TENSOR_NHWC (for a filter: KCRS or KRSC) */
/* type: 0 = CUDNN_DATA_FLOAT, 9 = CUDNN_DATA_BFLOAT16 (16-bit storage, read widened, written rounded to nearest even) */
typedef struct { int magic, set, n, c, h, w, fmt, type; } Tensor;
typedef struct { int magic, set, k, c, r, s, fmt, type; } Filter;
enum { T_FLOAT = 0, T_BF16 = 9 };
static inline size_t esize(int type) { return type == T_BF16 ? 2 : 4; }
static inline float LD(const void* p, size_t i, int type) {
    return type == T_BF16 ? mock_from_bf16(((const uint16_t*)p)[i]) : ((const float*)p)[i];
}
static inline void ST(void* p, size_t i, int type, float v) {
    if (type == T_BF16) ((uint16_t*)p)[i] = mock_to_bf16(v); else ((float*)p)[i] = v;
}
typedef struct { int magic, set, ph, pw, sh, sw, dh, dw, math; } ConvDesc;
typedef struct { int magic, set, mode, wh, ww, ph, pw, sh, sw; } PoolDesc;

/* cuDNN 9's cudnnConvolution*AlgoPerf_t layout (the three are identical) */
typedef struct { int algo; int status; float time; size_t memory; int determinism; int mathType; int reserved[3]; } Perf;

#define FAIL(code, ...) (mock_fail(__VA_ARGS__), (code))

static inline int handle_ok(const Handle* h) { return h && h->magic == HANDLE && h->stream && !mock_wrong_device(h, "cuDNN"); }
static inline int tensor_ok(const Tensor* t) { return t && t->magic == TENSOR && t->set; }
static inline size_t tsize(const Tensor* t) { return (size_t)t->n * t->c * t->h * t->w; }
/* Offset of element (n, c, h, w) in the tensor's format. */
static inline size_t tix(const Tensor* t, int n, int c, int h, int w) {
    return t->fmt == 0 ? (((size_t)n * t->c + c) * t->h + h) * t->w + w : (((size_t)n * t->h + h) * t->w + w) * t->c + c;
}
/* Offset of filter element (k, c, r, s) in the filter's format. */
static inline size_t fix(const Filter* f, int k, int c, int r, int s) {
    return f->fmt == 0 ? (((size_t)k * f->c + c) * f->r + r) * f->s + s : (((size_t)k * f->r + r) * f->s + s) * f->c + c;
}

#if defined(LIB_GRAPH)
size_t cudnnGetVersion(void) { return (size_t)mock_setting("cudnn.version", 90000); }
size_t cudnnGetCudartVersion(void) { return 13000; }
const char* cudnnGetErrorString(int s) {
    switch (s) {
        case OK: return "CUDNN_STATUS_SUCCESS";
        case BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM (stand-in)";
        case NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED (stand-in)";
        case EXEC_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED (stand-in)";
        default: return "CUDNN_STATUS (stand-in)";
    }
}
/* Device memory a handle takes, as the stand-in charges it: a model, not a measurement. */
#define HANDLE_BYTES (2ll << 20)
int cudnnCreate(Handle** h) {
    int status = mock_setting("cudnn.create", OK);
    if (status != OK) return status;
    if (mock_charge(HANDLE_BYTES)) return ALLOC_FAILED;
    *h = calloc(1, sizeof(Handle));
    (*h)->magic = HANDLE;
    mock_owner_set(*h);
    return OK;
}
int cudnnDestroy(Handle* h) {
    if (!h || h->magic != HANDLE) return BAD_PARAM;
    h->magic = 0;
    mock_owner_forget(h); /* before free: the address may be reused */
    free(h);
    mock_charge(-HANDLE_BYTES);
    return OK;
}
int cudnnSetStream(Handle* h, CUstream s) {
    if (!h || h->magic != HANDLE) return BAD_PARAM;
    if (!mock_stream_ok(s)) return FAIL(BAD_PARAM, "cudnnSetStream: unknown stream");
    h->stream = s;
    return OK;
}
#endif

#if defined(LIB_OPS)
int cudnnCreateTensorDescriptor(Tensor** t) { *t = calloc(1, sizeof(Tensor)); (*t)->magic = TENSOR; return OK; }
int cudnnDestroyTensorDescriptor(Tensor* t) { if (!t || t->magic != TENSOR) return BAD_PARAM; t->magic = 0; free(t); return OK; }
int cudnnSetTensor4dDescriptor(Tensor* t, int format, int type, int n, int c, int h, int w) {
    if (!t || t->magic != TENSOR) return BAD_PARAM;
    if ((format != 0 && format != 1) || (type != T_FLOAT && type != T_BF16))
        return FAIL(NOT_SUPPORTED, "cudnnSetTensor4dDescriptor: only NCHW or NHWC, float or bfloat16 here");
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return FAIL(BAD_PARAM, "cudnnSetTensor4dDescriptor: bad dims %d %d %d %d", n, c, h, w);
    *t = (Tensor){TENSOR, 1, n, c, h, w, format, type};
    return OK;
}
int cudnnCreateFilterDescriptor(Filter** f) { *f = calloc(1, sizeof(Filter)); (*f)->magic = FILTER; return OK; }
int cudnnDestroyFilterDescriptor(Filter* f) { if (!f || f->magic != FILTER) return BAD_PARAM; f->magic = 0; free(f); return OK; }
int cudnnSetFilter4dDescriptor(Filter* f, int type, int format, int k, int c, int r, int s) {
    if (!f || f->magic != FILTER) return BAD_PARAM;
    if ((format != 0 && format != 1) || (type != T_FLOAT && type != T_BF16))
        return FAIL(NOT_SUPPORTED, "cudnnSetFilter4dDescriptor: only NCHW or NHWC, float or bfloat16 here");
    if (k <= 0 || c <= 0 || r <= 0 || s <= 0) return FAIL(BAD_PARAM, "cudnnSetFilter4dDescriptor: bad dims");
    *f = (Filter){FILTER, 1, k, c, r, s, format, type};
    return OK;
}
int cudnnCreatePoolingDescriptor(PoolDesc** p) { *p = calloc(1, sizeof(PoolDesc)); (*p)->magic = POOLD; return OK; }
int cudnnDestroyPoolingDescriptor(PoolDesc* p) { if (!p || p->magic != POOLD) return BAD_PARAM; p->magic = 0; free(p); return OK; }
int cudnnSetPooling2dDescriptor(PoolDesc* p, int mode, int nan, int wh, int ww, int ph, int pw, int sh, int sw) {
    if (!p || p->magic != POOLD) return BAD_PARAM;
    if (mode != 1 && mode != 3) return FAIL(NOT_SUPPORTED, "cudnnSetPooling2dDescriptor: sam4j uses MAX_DETERMINISTIC or AVERAGE_COUNT_INCLUDE_PADDING, got %d", mode);
    if (nan != 0 || wh <= 0 || ww <= 0 || ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || ph >= wh || pw >= ww)
        return FAIL(BAD_PARAM, "cudnnSetPooling2dDescriptor: bad window %dx%d pad %d,%d stride %d,%d", wh, ww, ph, pw, sh, sw);
    *p = (PoolDesc){POOLD, 1, mode, wh, ww, ph, pw, sh, sw};
    return OK;
}

/* ----------------------------------------------------------------------------- cudnnAddTensor */
typedef struct { Tensor b, y; float alpha, beta; const float* B; float* Y; } AddT;
static int run_add(void* d) {
    AddT* a = d;
    for (int n = 0; n < a->y.n; n++)
        for (int c = 0; c < a->y.c; c++)
            for (int h = 0; h < a->y.h; h++)
                for (int w = 0; w < a->y.w; w++) {
                    float* y = a->Y + tix(&a->y, n, c, h, w);
                    *y = a->alpha * a->B[c] + (a->beta == 0 ? 0 : a->beta * *y);
                }
    return 0;
}
int cudnnAddTensor(Handle* h, const float* alpha, const Tensor* bd, const float* B, const float* beta, const Tensor* yd, float* Y) {
    if (!handle_ok(h) || !tensor_ok(bd) || !tensor_ok(yd)) return FAIL(BAD_PARAM, "cudnnAddTensor: bad handle or descriptor");
    if (bd->type != T_FLOAT || yd->type != T_FLOAT)
        return FAIL(NOT_SUPPORTED, "cudnnAddTensor: the stand-in adds float to float (sam4j adds a bf16 convolution's bias itself)");
    if (bd->n != 1 || bd->h != 1 || bd->w != 1 || bd->c != yd->c)
        return FAIL(NOT_SUPPORTED, "cudnnAddTensor: sam4j adds a 1xCx1x1 bias, got %dx%dx%dx%d onto C=%d", bd->n, bd->c, bd->h, bd->w, yd->c);
    if (mock_check_device(B, 4 * tsize(bd), "cudnnAddTensor bias") || mock_check_device(Y, 4 * tsize(yd), "cudnnAddTensor y")) return BAD_PARAM;
    AddT* a = malloc(sizeof *a);
    *a = (AddT){*bd, *yd, *alpha, *beta, B, Y};
    return mock_enqueue_callback(h->stream, run_add, a) ? EXEC_FAILED : OK;
}

/* ------------------------------------------------------------------------------------- pooling */
static int pool_out(int in, int w, int p, int s) { return (in + 2 * p - w) / s + 1; }

typedef struct { PoolDesc p; Tensor x, y; float alpha, beta; const void *X, *Yv, *DY; void *Y, *DX; } PoolArgs;

static int run_pool_fwd(void* d) {
    PoolArgs* a = d;
    int oh = a->y.h, ow = a->y.w;
    for (int nc = 0; nc < a->x.n * a->x.c; nc++) {
        int n = nc / a->x.c, c = nc % a->x.c;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double acc = a->p.mode == 3 ? -INFINITY : 0;
                for (int ki = 0; ki < a->p.wh; ki++)
                    for (int kj = 0; kj < a->p.ww; kj++) {
                        int hi = i * a->p.sh - a->p.ph + ki, wj = j * a->p.sw - a->p.pw + kj;
                        if (hi < 0 || hi >= a->x.h || wj < 0 || wj >= a->x.w) continue; /* padding: 0 for average, never wins max */
                        double v = LD(a->X, tix(&a->x, n, c, hi, wj), a->x.type);
                        if (a->p.mode == 3) { if (v > acc) acc = v; } else acc += v;
                    }
                if (a->p.mode != 3) acc /= (double)a->p.wh * a->p.ww;
                size_t o = tix(&a->y, n, c, i, j);
                ST(a->Y, o, a->y.type, (float)(a->alpha * acc + (a->beta == 0 ? 0 : a->beta * LD(a->Y, o, a->y.type))));
            }
    }
    return 0;
}

static int run_pool_bwd(void* d) {
    PoolArgs* a = d;
    int oh = a->y.h, ow = a->y.w;
    size_t plane = (size_t)a->x.h * a->x.w;
    double* acc = calloc(plane, sizeof(double));
    for (int nc = 0; nc < a->x.n * a->x.c; nc++) {
        int n = nc / a->x.c, c = nc % a->x.c;
        memset(acc, 0, plane * sizeof(double));
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int best = -1;
                double bv = 0;
                for (int ki = 0; ki < a->p.wh; ki++)
                    for (int kj = 0; kj < a->p.ww; kj++) {
                        int hi = i * a->p.sh - a->p.ph + ki, wj = j * a->p.sw - a->p.pw + kj;
                        if (hi < 0 || hi >= a->x.h || wj < 0 || wj >= a->x.w) continue;
                        double g = LD(a->DY, tix(&a->y, n, c, i, j), a->y.type);
                        if (a->p.mode == 3) {
                            double v = LD(a->X, tix(&a->x, n, c, hi, wj), a->x.type);
                            if (best < 0 || v > bv) { bv = v; best = hi * a->x.w + wj; } /* first max wins */
                        } else {
                            acc[hi * a->x.w + wj] += g / ((double)a->p.wh * a->p.ww);
                        }
                    }
                if (best >= 0) acc[best] += LD(a->DY, tix(&a->y, n, c, i, j), a->y.type);
            }
        for (size_t i = 0; i < plane; i++) {
            size_t o = tix(&a->x, n, c, (int)(i / a->x.w), (int)(i % a->x.w));
            ST(a->DX, o, a->x.type, (float)(a->alpha * acc[i] + (a->beta == 0 ? 0 : a->beta * LD(a->DX, o, a->x.type))));
        }
    }
    free(acc);
    return 0;
}

static int pool_check(const char* fn, const PoolDesc* p, const Tensor* x, const Tensor* y) {
    if (!p || p->magic != POOLD || !p->set || !tensor_ok(x) || !tensor_ok(y)) return FAIL(BAD_PARAM, "%s: bad descriptor", fn);
    if (x->type != y->type || x->fmt != y->fmt) return FAIL(BAD_PARAM, "%s: x and y differ in type or format", fn);
    if (x->n != y->n || x->c != y->c || y->h != pool_out(x->h, p->wh, p->ph, p->sh) || y->w != pool_out(x->w, p->ww, p->pw, p->sw))
        return FAIL(BAD_PARAM, "%s: y is %dx%dx%dx%d, pooling %dx%dx%dx%d gives %dx%d", fn, y->n, y->c, y->h, y->w, x->n, x->c, x->h,
                    x->w, pool_out(x->h, p->wh, p->ph, p->sh), pool_out(x->w, p->ww, p->pw, p->sw));
    return OK;
}

int cudnnPoolingForward(Handle* h, const PoolDesc* p, const float* alpha, const Tensor* xd, const void* X, const float* beta,
                        const Tensor* yd, void* Y) {
    if (!handle_ok(h)) return BAD_PARAM;
    if (pool_check("cudnnPoolingForward", p, xd, yd)) return BAD_PARAM;
    if (mock_check_device(X, esize(xd->type) * tsize(xd), "cudnnPoolingForward x") || mock_check_device(Y, esize(yd->type) * tsize(yd), "cudnnPoolingForward y"))
        return BAD_PARAM;
    PoolArgs* a = calloc(1, sizeof *a);
    *a = (PoolArgs){.p = *p, .x = *xd, .y = *yd, .alpha = *alpha, .beta = *beta, .X = X, .Y = Y};
    return mock_enqueue_callback(h->stream, run_pool_fwd, a) ? EXEC_FAILED : OK;
}

int cudnnPoolingBackward(Handle* h, const PoolDesc* p, const float* alpha, const Tensor* yd, const void* Y, const Tensor* dyd,
                         const void* DY, const Tensor* xd, const void* X, const float* beta, const Tensor* dxd, void* DX) {
    if (!handle_ok(h)) return BAD_PARAM;
    if (pool_check("cudnnPoolingBackward", p, xd, yd) || !tensor_ok(dyd) || !tensor_ok(dxd)) return BAD_PARAM;
    if (memcmp(yd, dyd, sizeof *yd) || memcmp(xd, dxd, sizeof *xd)) return FAIL(BAD_PARAM, "cudnnPoolingBackward: dy/dx shapes differ from y/x");
    size_t yb = esize(yd->type) * tsize(yd), xb = esize(xd->type) * tsize(xd);
    if (mock_check_device(Y, yb, "cudnnPoolingBackward y") || mock_check_device(DY, yb, "cudnnPoolingBackward dy")
        || mock_check_device(X, xb, "cudnnPoolingBackward x") || mock_check_device(DX, xb, "cudnnPoolingBackward dx"))
        return BAD_PARAM;
    PoolArgs* a = calloc(1, sizeof *a);
    *a = (PoolArgs){.p = *p, .x = *xd, .y = *yd, .alpha = *alpha, .beta = *beta, .X = X, .Yv = Y, .DY = DY, .DX = DX};
    return mock_enqueue_callback(h->stream, run_pool_bwd, a) ? EXEC_FAILED : OK;
}

/* ---------------------------------------------------------------------------------- batch norm */
typedef struct {
    int kind; /* 0 training, 1 inference, 2 backward */
    Tensor x;
    float a, b, pa, pb;
    double factor, eps;
    const void *X, *DY;  /* in the x descriptor's type, as Y and DX */
    const float *G, *B, *SM, *SI;
    void *Y, *DX;
    float *DG, *DB, *RM, *RV, *OM, *OI;
    const float *IM, *IV; /* inference: running stats */
} BnArgs;

static int run_bn(void* d) {
    BnArgs* a = d;
    int N = a->x.n, C = a->x.c;
    size_t hw = (size_t)a->x.h * a->x.w;
    double m = (double)N * hw;
    for (int c = 0; c < C; c++) {
#define IX(n, i) tix(&a->x, (n), c, (int)((i) / a->x.w), (int)((i) % a->x.w))
#define AT(P, n, i) LD((P), IX(n, i), a->x.type)
#define PUT(P, n, i, v) ST((P), IX(n, i), a->x.type, (float)(v))
        if (a->kind == 1) {
            double inv = 1 / sqrt((double)a->IV[c] + a->eps);
            for (int n = 0; n < N; n++)
                for (size_t i = 0; i < hw; i++) {
                    double v = a->G[c] * (AT(a->X, n, i) - a->IM[c]) * inv + a->B[c];
                    PUT(a->Y, n, i, a->a * v + (a->b == 0 ? 0 : a->b * AT(a->Y, n, i)));
                }
            continue;
        }
        double mean, inv;
        if (a->kind == 0 || !a->SM) {
            double s = 0, q = 0;
            for (int n = 0; n < N; n++) for (size_t i = 0; i < hw; i++) s += AT(a->X, n, i);
            mean = s / m;
            for (int n = 0; n < N; n++) for (size_t i = 0; i < hw; i++) { double e = AT(a->X, n, i) - mean; q += e * e; }
            double var = q / m;
            inv = 1 / sqrt(var + a->eps);
            if (a->kind == 0) {
                if (a->OM) { a->OM[c] = (float)mean; a->OI[c] = (float)inv; }
                if (a->RM) {
                    double unbiased = m > 1 ? q / (m - 1) : var;  /* running variance is unbiased, as in PyTorch */
                    a->RM[c] = (float)((1 - a->factor) * a->RM[c] + a->factor * mean);
                    a->RV[c] = (float)((1 - a->factor) * a->RV[c] + a->factor * unbiased);
                }
                for (int n = 0; n < N; n++)
                    for (size_t i = 0; i < hw; i++) {
                        double v = a->G[c] * (AT(a->X, n, i) - mean) * inv + a->B[c];
                        PUT(a->Y, n, i, a->a * v + (a->b == 0 ? 0 : a->b * AT(a->Y, n, i)));
                    }
                continue;
            }
        } else {
            mean = a->SM[c];
            inv = a->SI[c];
        }
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < hw; i++) { double dy = AT(a->DY, n, i); sdy += dy; sdyx += dy * (AT(a->X, n, i) - mean) * inv; }
        for (int n = 0; n < N; n++)
            for (size_t i = 0; i < hw; i++) {
                double xh = (AT(a->X, n, i) - mean) * inv;
                double v = a->G[c] * inv / m * (m * AT(a->DY, n, i) - sdy - xh * sdyx);
                PUT(a->DX, n, i, a->a * v + (a->b == 0 ? 0 : a->b * AT(a->DX, n, i)));
            }
        a->DG[c] = (float)(a->pa * sdyx + (a->pb == 0 ? 0 : a->pb * a->DG[c]));
        a->DB[c] = (float)(a->pa * sdy + (a->pb == 0 ? 0 : a->pb * a->DB[c]));
#undef AT
#undef PUT
#undef IX
    }
    return 0;
}

static int bn_check(const char* fn, const Handle* h, int mode, const Tensor* x, const Tensor* y, const Tensor* p, double eps) {
    if (!handle_ok(h) || !tensor_ok(x) || !tensor_ok(y) || !tensor_ok(p)) return FAIL(BAD_PARAM, "%s: bad handle or descriptor", fn);
    if (mode != 1) return FAIL(NOT_SUPPORTED, "%s: sam4j uses CUDNN_BATCHNORM_SPATIAL, got mode %d", fn, mode);
    if (memcmp(x, y, sizeof *x)) return FAIL(BAD_PARAM, "%s: x and y descriptors differ", fn);
    if (p->type != T_FLOAT) return FAIL(BAD_PARAM, "%s: the scale, bias, mean and variance descriptor must be float", fn);
    if (p->n != 1 || p->c != x->c || p->h != 1 || p->w != 1)
        return FAIL(BAD_PARAM, "%s: parameter descriptor is %dx%dx%dx%d, needs 1x%dx1x1", fn, p->n, p->c, p->h, p->w, x->c);
    if (!(eps >= 0)) return FAIL(BAD_PARAM, "%s: epsilon %g", fn, eps);
    return OK;
}

#define DEV(P, N, WHAT) ((P) && mock_check_device((P), 4 * (size_t)(N), WHAT))
/* data pointers: N elements of the x descriptor's type */
#define DEVX(P, N, WHAT) ((P) && mock_check_device((P), esize(xd->type) * (size_t)(N), WHAT))

int cudnnBatchNormalizationForwardTraining(Handle* h, int mode, const float* alpha, const float* beta, const Tensor* xd,
                                           const void* X, const Tensor* yd, void* Y, const Tensor* pd, const float* G,
                                           const float* B, double factor, float* RM, float* RV, double eps, float* OM, float* OI) {
    if (bn_check("cudnnBatchNormalizationForwardTraining", h, mode, xd, yd, pd, eps)) return BAD_PARAM;
    if (!RM != !RV) return FAIL(BAD_PARAM, "cudnnBatchNormalizationForwardTraining: running mean and variance must be both null or both set");
    if (!OM != !OI) return FAIL(BAD_PARAM, "cudnnBatchNormalizationForwardTraining: saved mean and inverse variance must be both null or both set");
    if (!(factor >= 0 && factor <= 1)) return FAIL(BAD_PARAM, "cudnnBatchNormalizationForwardTraining: factor %g", factor);
    size_t n = tsize(xd);
    int c = xd->c;
    if (!X || !Y || !G || !B || DEVX(X, n, "bn x") || DEVX(Y, n, "bn y") || DEV(G, c, "bn scale") || DEV(B, c, "bn bias")
        || DEV(RM, c, "bn running mean") || DEV(RV, c, "bn running var") || DEV(OM, c, "bn saved mean") || DEV(OI, c, "bn saved inv var"))
        return BAD_PARAM;
    BnArgs* a = calloc(1, sizeof *a);
    *a = (BnArgs){.kind = 0, .x = *xd, .a = *alpha, .b = *beta, .factor = factor, .eps = eps, .X = X, .G = G, .B = B, .Y = Y,
                  .RM = RM, .RV = RV, .OM = OM, .OI = OI};
    return mock_enqueue_callback(h->stream, run_bn, a) ? EXEC_FAILED : OK;
}

int cudnnBatchNormalizationForwardInference(Handle* h, int mode, const float* alpha, const float* beta, const Tensor* xd,
                                            const void* X, const Tensor* yd, void* Y, const Tensor* pd, const float* G,
                                            const float* B, const float* IM, const float* IV, double eps) {
    if (bn_check("cudnnBatchNormalizationForwardInference", h, mode, xd, yd, pd, eps)) return BAD_PARAM;
    size_t n = tsize(xd);
    int c = xd->c;
    if (!X || !Y || !G || !B || !IM || !IV || DEVX(X, n, "bn x") || DEVX(Y, n, "bn y") || DEV(G, c, "bn scale") || DEV(B, c, "bn bias")
        || DEV(IM, c, "bn running mean") || DEV(IV, c, "bn running var"))
        return FAIL(BAD_PARAM, "cudnnBatchNormalizationForwardInference: a null or bad pointer");
    BnArgs* a = calloc(1, sizeof *a);
    *a = (BnArgs){.kind = 1, .x = *xd, .a = *alpha, .b = *beta, .eps = eps, .X = X, .G = G, .B = B, .Y = Y, .IM = IM, .IV = IV};
    return mock_enqueue_callback(h->stream, run_bn, a) ? EXEC_FAILED : OK;
}

int cudnnBatchNormalizationBackward(Handle* h, int mode, const float* alphaD, const float* betaD, const float* alphaP,
                                    const float* betaP, const Tensor* xd, const void* X, const Tensor* dyd, const void* DY,
                                    const Tensor* dxd, void* DX, const Tensor* pd, const float* G, float* DG, float* DB,
                                    double eps, const float* SM, const float* SI) {
    if (bn_check("cudnnBatchNormalizationBackward", h, mode, xd, dyd, pd, eps) || !tensor_ok(dxd) || memcmp(xd, dxd, sizeof *xd))
        return BAD_PARAM;
    if (!SM != !SI) return FAIL(BAD_PARAM, "cudnnBatchNormalizationBackward: saved mean and inverse variance must be both null or both set");
    size_t n = tsize(xd);
    int c = xd->c;
    if (!X || !DY || !DX || !G || !DG || !DB || DEVX(X, n, "bn x") || DEVX(DY, n, "bn dy") || DEVX(DX, n, "bn dx") || DEV(G, c, "bn scale")
        || DEV(DG, c, "bn dscale") || DEV(DB, c, "bn dbias") || DEV(SM, c, "bn saved mean") || DEV(SI, c, "bn saved inv var"))
        return FAIL(BAD_PARAM, "cudnnBatchNormalizationBackward: a null or bad pointer");
    BnArgs* a = calloc(1, sizeof *a);
    *a = (BnArgs){.kind = 2, .x = *xd, .a = *alphaD, .b = *betaD, .pa = *alphaP, .pb = *betaP, .eps = eps, .X = X, .DY = DY, .DX = DX,
                  .G = G, .DG = DG, .DB = DB, .SM = SM, .SI = SI};
    return mock_enqueue_callback(h->stream, run_bn, a) ? EXEC_FAILED : OK;
}
#endif

#if defined(LIB_CNN)
int cudnnCreateConvolutionDescriptor(ConvDesc** c) { *c = calloc(1, sizeof(ConvDesc)); (*c)->magic = CONVD; return OK; }
int cudnnDestroyConvolutionDescriptor(ConvDesc* c) { if (!c || c->magic != CONVD) return BAD_PARAM; c->magic = 0; free(c); return OK; }
int cudnnSetConvolution2dDescriptor(ConvDesc* c, int ph, int pw, int sh, int sw, int dh, int dw, int mode, int type) {
    if (!c || c->magic != CONVD) return BAD_PARAM;
    if (mode != 1 || type != 0) return FAIL(NOT_SUPPORTED, "cudnnSetConvolution2dDescriptor: sam4j uses cross-correlation in float");
    if (ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh != 1 || dw != 1) return FAIL(BAD_PARAM, "cudnnSetConvolution2dDescriptor: bad geometry");
    int math = c->math;
    *c = (ConvDesc){CONVD, 1, ph, pw, sh, sw, dh, dw, math};
    return OK;
}
int cudnnSetConvolutionMathType(ConvDesc* c, int math) {
    if (!c || c->magic != CONVD) return BAD_PARAM;
    if (math != 0 && math != 1 && math != 2 && math != 3) return BAD_PARAM;
    c->math = math;
    return OK;
}

static int conv_check(const char* fn, const Handle* h, const Tensor* x, const Filter* f, const ConvDesc* c, const Tensor* y) {
    if (!handle_ok(h) || !tensor_ok(x) || !tensor_ok(y) || !f || f->magic != FILTER || !f->set || !c || c->magic != CONVD || !c->set)
        return FAIL(BAD_PARAM, "%s: bad handle or descriptor", fn);
    /* cuDNN's fast NHWC kernels want the filter in the data's format; sam4j always passes one format for all three */
    if (x->fmt != y->fmt || x->fmt != f->fmt)
        return FAIL(NOT_SUPPORTED, "%s: x, y and filter formats differ (%d, %d, %d)", fn, x->fmt, y->fmt, f->fmt);
    /* PSEUDO_BFLOAT16_CONFIG: x, w and y all bfloat16 (fp32 compute); FLOAT_CONFIG all float */
    if (x->type != y->type || x->type != f->type)
        return FAIL(NOT_SUPPORTED, "%s: x, y and filter data types differ (%d, %d, %d)", fn, x->type, y->type, f->type);
    int oh = (x->h + 2 * c->ph - f->r) / c->sh + 1, ow = (x->w + 2 * c->pw - f->s) / c->sw + 1;
    if (x->c != f->c || y->n != x->n || y->c != f->k || y->h != oh || y->w != ow)
        return FAIL(BAD_PARAM, "%s: x %dx%dx%dx%d, w %dx%dx%dx%d, pad %d stride %d give %dx%dx%dx%d, y is %dx%dx%dx%d", fn, x->n, x->c, x->h,
                    x->w, f->k, f->c, f->r, f->s, c->ph, c->sh, x->n, f->k, oh, ow, y->n, y->c, y->h, y->w);
    return OK;
}

/* Workspace bytes of the stand-in's algorithm 1 ("fast", needs scratch); algorithms 0 and 2 need none. */
static size_t ws_need(const Tensor* x, const Filter* f) { return 4 * (size_t)x->n * f->c * f->r * f->s + 256; }

/* The candidates in their ranking: cudnn.fastest first (1 unless a test sets it), then the others in order. */
static void rank(const Perf offered[3], int req, int* count, Perf* perf) {
    int fastest = mock_setting("cudnn.fastest", 1), k = 0;
    for (int i = 0; i < 3; i++) if (offered[i].algo == fastest) perf[k++] = offered[i];
    for (int i = 0; i < 3 && k < req; i++) if (offered[i].algo != fastest) perf[k++] = offered[i];
    *count = k < req ? k : req;
}

static int find(const char* fn, const Handle* h, const Tensor* x, const Filter* f, const ConvDesc* c, const Tensor* y, int req,
                int* count, Perf* perf) {
    if (conv_check(fn, h, x, f, c, y)) return BAD_PARAM;
    if (h->stream->capture) return FAIL(BAD_PARAM, "%s: called while the stream is being captured (Find must run before capture)", fn);
    if (req < 1 || !count || !perf) return BAD_PARAM;
    /* determinism: 0 = CUDNN_NON_DETERMINISTIC, 1 = CUDNN_DETERMINISTIC */
    Perf offered[3] = {{1, OK, 0.5f, ws_need(x, f), 0, c->math, {0}}, {0, OK, 1.0f, 0, 1, c->math, {0}}, {2, OK, 1.5f, 0, 1, c->math, {0}}};
    /* Find is blocking: it waits for the stream, then times every candidate in scratch it allocates itself
     * (as much as the hungriest one needs) and frees before returning (cudnnFind*Ex would take the caller's) */
    if (mock_stream_sync(h->stream)) return EXEC_FAILED;
    long long scratch = 0;
    for (int i = 0; i < 3; i++) if ((long long)offered[i].memory > scratch) scratch = (long long)offered[i].memory;
    if (mock_charge(scratch)) return ALLOC_FAILED;
    mock_charge(-scratch);
    rank(offered, req, count, perf);
    for (int i = 0; i < *count; i++) perf[i].time = 0.5f + i;
    return OK;
}

int cudnnFindConvolutionForwardAlgorithm(Handle* h, const Tensor* x, const Filter* w, const ConvDesc* c, const Tensor* y, int req,
                                         int* count, Perf* perf) {
    return find("cudnnFindConvolutionForwardAlgorithm", h, x, w, c, y, req, count, perf);
}
int cudnnFindConvolutionBackwardDataAlgorithm(Handle* h, const Filter* w, const Tensor* dy, const ConvDesc* c, const Tensor* dx,
                                              int req, int* count, Perf* perf) {
    return find("cudnnFindConvolutionBackwardDataAlgorithm", h, dx, w, c, dy, req, count, perf);
}
int cudnnFindConvolutionBackwardFilterAlgorithm(Handle* h, const Tensor* x, const Tensor* dy, const ConvDesc* c, const Filter* dw,
                                                int req, int* count, Perf* perf) {
    return find("cudnnFindConvolutionBackwardFilterAlgorithm", h, x, dw, c, dy, req, count, perf);
}

/* The heuristics (cudnnGet*Algorithm_v7): the same candidates as Find, ranked the same way (cudnn.fastest
 * first), but without timing anything: no stream wait, no scratch. */
static int heuristic(const char* fn, const Handle* h, const Tensor* x, const Filter* f, const ConvDesc* c, const Tensor* y, int req,
                     int* count, Perf* perf) {
    if (conv_check(fn, h, x, f, c, y)) return BAD_PARAM;
    if (req < 1 || !count || !perf) return BAD_PARAM;
    Perf offered[3] = {{1, OK, -1.0f, ws_need(x, f), 0, c->math, {0}}, {0, OK, -1.0f, 0, 1, c->math, {0}}, {2, OK, -1.0f, 0, 1, c->math, {0}}};
    rank(offered, req, count, perf);
    return OK;
}

int cudnnGetConvolutionForwardAlgorithm_v7(Handle* h, const Tensor* x, const Filter* w, const ConvDesc* c, const Tensor* y, int req,
                                           int* count, Perf* perf) {
    return heuristic("cudnnGetConvolutionForwardAlgorithm_v7", h, x, w, c, y, req, count, perf);
}
int cudnnGetConvolutionBackwardDataAlgorithm_v7(Handle* h, const Filter* w, const Tensor* dy, const ConvDesc* c, const Tensor* dx,
                                                int req, int* count, Perf* perf) {
    return heuristic("cudnnGetConvolutionBackwardDataAlgorithm_v7", h, dx, w, c, dy, req, count, perf);
}
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(Handle* h, const Tensor* x, const Tensor* dy, const ConvDesc* c, const Filter* dw,
                                                  int req, int* count, Perf* perf) {
    return heuristic("cudnnGetConvolutionBackwardFilterAlgorithm_v7", h, x, dw, c, dy, req, count, perf);
}

typedef struct { int kind; Tensor x, y; Filter f; ConvDesc c; float alpha, beta; const void *A, *B; void* OUT; float* WS; size_t wsb; int algo; } ConvArgs;

static unsigned noisy_runs; /* executions of the non-deterministic algorithm with cudnn.noise on */

static int run_conv(void* d) {
    ConvArgs* a = d;
    if (a->WS) for (size_t i = 0; i < a->wsb / 4; i++) a->WS[i] = NAN; /* scratch is scratch: nobody may rely on it */
    /* Algorithm 2 adds in float with the n, k and c loops reversed; algorithm 1 with noise adds in float, reversed or not by a hash of the call count. */
    int noisy = a->algo == 1 && mock_setting("cudnn.noise", 0);
    int fp32 = a->algo == 2 || noisy, rev = a->algo == 2;
    /* Every math type but CUDNN_FMA_MATH (3) lets cuDNN use TF32 tensor cores on float data: inputs read rounded. */
    int tf32 = a->c.math != 3;
    if (noisy) rev = (__atomic_add_fetch(&noisy_runs, 1, __ATOMIC_RELAXED) * 2654435761u) >> 31; /* no short period: runs never repeat */
    const Tensor *x = &a->x, *y = &a->y;
    const Filter* f = &a->f;
    size_t outN = a->kind == 0 ? (size_t)y->n * y->c * y->h * y->w : a->kind == 1 ? (size_t)x->n * x->c * x->h * x->w
                                                                                  : (size_t)f->k * f->c * f->r * f->s;
    double* acc = calloc(outN, sizeof(double));
    float* acc32 = calloc(outN, sizeof(float));
    for (int n_ = 0; n_ < x->n; n_++)
        for (int k_ = 0; k_ < f->k; k_++)
            for (int i = 0; i < y->h; i++)
                for (int j = 0; j < y->w; j++) {
                    int n = rev ? x->n - 1 - n_ : n_, k = rev ? f->k - 1 - k_ : k_;
                    size_t yi = tix(y, n, k, i, j);
                    for (int c_ = 0; c_ < f->c; c_++)
                        for (int r = 0, c = rev ? f->c - 1 - c_ : c_; r < f->r; r++)
                            for (int s = 0; s < f->s; s++) {
                                int hi = i * a->c.sh - a->c.ph + r, wj = j * a->c.sw - a->c.pw + s;
                                if (hi < 0 || hi >= x->h || wj < 0 || wj >= x->w) continue;
                                size_t xi = tix(x, n, c, hi, wj);
                                size_t wi = fix(f, k, c, r, s);
                                /* kind 0: A = x, B = w; kind 1: A = dy, B = w; kind 2: A = x, B = dy */
                                size_t o = a->kind == 0 ? yi : a->kind == 1 ? xi : wi;
                                int t = x->type;  /* one type for all three (conv_check) */
                                float u = LD(a->A, a->kind == 1 ? yi : xi, t), v = LD(a->B, a->kind == 2 ? yi : wi, t);
                                if (tf32) { u = mock_tf32(u); v = mock_tf32(v); }
                                if (fp32) acc32[o] += u * v;
                                else acc[o] += (double)u * v;
                            }
                }
    for (size_t i = 0; i < outN; i++) {
        double sum = fp32 ? acc32[i] : acc[i];
        ST(a->OUT, i, x->type, (float)(a->alpha * sum + (a->beta == 0 ? 0 : a->beta * LD(a->OUT, i, x->type))));
    }
    free(acc);
    free(acc32);
    return 0;
}

static int conv_enqueue(const char* fn, int kind, const Handle* h, const Tensor* x, const Filter* f, const ConvDesc* c,
                        const Tensor* y, int algo, void* ws, size_t wsb, const float* alpha, const float* beta, const void* A,
                        size_t an, const void* B, size_t bn, void* OUT, size_t on) {
    if (conv_check(fn, h, x, f, c, y)) return BAD_PARAM;
    if (algo != 0 && algo != 1 && algo != 2) return FAIL(BAD_PARAM, "%s: algorithm %d was never offered by Find", fn, algo);
    size_t need = algo == 1 ? ws_need(x, f) : 0;
    if (wsb < need) return FAIL(BAD_PARAM, "%s: algorithm %d needs %zu workspace bytes, got %zu", fn, algo, need, wsb);
    if (wsb > 0 && (!ws || mock_check_device(ws, wsb, "convolution workspace"))) return BAD_PARAM;
    size_t e = esize(x->type);
    if (mock_check_device(A, e * an, fn) || mock_check_device(B, e * bn, fn) || mock_check_device(OUT, e * on, fn)) return BAD_PARAM;
    ConvArgs* a = malloc(sizeof *a);
    *a = (ConvArgs){kind, *x, *y, *f, *c, *alpha, *beta, A, B, OUT, algo == 1 ? ws : NULL, need, algo};
    return mock_enqueue_callback(h->stream, run_conv, a) ? EXEC_FAILED : OK;
}

static size_t fsize(const Filter* f) { return (size_t)f->k * f->c * f->r * f->s; }

int cudnnConvolutionForward(Handle* h, const float* alpha, const Tensor* xd, const void* X, const Filter* wd, const void* W,
                            const ConvDesc* c, int algo, void* ws, size_t wsb, const float* beta, const Tensor* yd, void* Y) {
    if (!tensor_ok(xd) || !tensor_ok(yd) || !wd || wd->magic != FILTER) return FAIL(BAD_PARAM, "cudnnConvolutionForward: bad descriptor");
    return conv_enqueue("cudnnConvolutionForward", 0, h, xd, wd, c, yd, algo, ws, wsb, alpha, beta, X, tsize(xd), W, fsize(wd), Y, tsize(yd));
}
int cudnnConvolutionBackwardData(Handle* h, const float* alpha, const Filter* wd, const void* W, const Tensor* dyd, const void* DY,
                                 const ConvDesc* c, int algo, void* ws, size_t wsb, const float* beta, const Tensor* dxd, void* DX) {
    if (!tensor_ok(dxd) || !tensor_ok(dyd) || !wd || wd->magic != FILTER) return FAIL(BAD_PARAM, "cudnnConvolutionBackwardData: bad descriptor");
    return conv_enqueue("cudnnConvolutionBackwardData", 1, h, dxd, wd, c, dyd, algo, ws, wsb, alpha, beta, DY, tsize(dyd), W, fsize(wd), DX,
                        tsize(dxd));
}
int cudnnConvolutionBackwardFilter(Handle* h, const float* alpha, const Tensor* xd, const void* X, const Tensor* dyd, const void* DY,
                                   const ConvDesc* c, int algo, void* ws, size_t wsb, const float* beta, const Filter* dwd, void* DW) {
    if (!tensor_ok(xd) || !tensor_ok(dyd) || !dwd || dwd->magic != FILTER) return FAIL(BAD_PARAM, "cudnnConvolutionBackwardFilter: bad descriptor");
    return conv_enqueue("cudnnConvolutionBackwardFilter", 2, h, xd, dwd, c, dyd, algo, ws, wsb, alpha, beta, X, tsize(xd), DY, tsize(dyd),
                        DW, fsize(dwd));
}

typedef struct { Tensor y; float alpha, beta; const float* DY; float* DB; } BiasArgs;
static int run_bias(void* d) {
    BiasArgs* a = d;
    for (int c = 0; c < a->y.c; c++) {
        double s = 0;
        for (int n = 0; n < a->y.n; n++)
            for (int h = 0; h < a->y.h; h++)
                for (int w = 0; w < a->y.w; w++) s += a->DY[tix(&a->y, n, c, h, w)];
        a->DB[c] = (float)(a->alpha * s + (a->beta == 0 ? 0 : a->beta * a->DB[c]));
    }
    return 0;
}
int cudnnConvolutionBackwardBias(Handle* h, const float* alpha, const Tensor* dyd, const float* DY, const float* beta, const Tensor* dbd,
                                 float* DB) {
    if (!handle_ok(h) || !tensor_ok(dyd) || !tensor_ok(dbd)) return FAIL(BAD_PARAM, "cudnnConvolutionBackwardBias: bad descriptor");
    if (dbd->n != 1 || dbd->c != dyd->c || dbd->h != 1 || dbd->w != 1) return FAIL(BAD_PARAM, "cudnnConvolutionBackwardBias: db must be 1xCx1x1");
    if (dyd->type != T_FLOAT || dbd->type != T_FLOAT)
        return FAIL(NOT_SUPPORTED, "cudnnConvolutionBackwardBias: float only in the stand-in (sam4j sums a bf16 gradient's channels itself)");
    if (mock_check_device(DY, 4 * tsize(dyd), "bias dy") || mock_check_device(DB, 4 * (size_t)dbd->c, "bias db")) return BAD_PARAM;
    BiasArgs* a = malloc(sizeof *a);
    *a = (BiasArgs){*dyd, *alpha, *beta, DY, DB};
    return mock_enqueue_callback(h->stream, run_bias, a) ? EXEC_FAILED : OK;
}
#endif

#if defined(LIB_ADV)
int sam4j_cudnn_stand_in(void) { return 0; }
#endif
