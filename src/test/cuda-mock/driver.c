/*
 * libcuda.so.1 stand-in, the kernels: module loading (checks the fatbin magic), kernels looked up by name
 * and emulated on the CPU with the math of src/main/cuda (which mirrors ScalarOps), launches and kernel
 * graph nodes. A launch is queued on its stream and runs later on the stream's worker thread, through
 * mock_run_kernel (device.c holds memory, streams, events and graphs; see README.md).
 */
#include "mock.h"
#include "devices.h"
#include <math.h>

int sam4j_cuda_stand_in = 1; /* CudaRuntime's probe looks for this symbol */

CUresult cuGetErrorName(CUresult e, const char** s) {
    switch (e) {
        case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
        case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case CUDA_ERROR_INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case CUDA_ERROR_NO_BINARY_FOR_GPU: *s = "CUDA_ERROR_NO_BINARY_FOR_GPU"; break;
        case CUDA_ERROR_INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case CUDA_ERROR_ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
        case CUDA_ERROR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
        case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; break;
        default: *s = "CUDA_ERROR (stand-in)"; break;
    }
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------- kernel emulations */

#define A(i) args[i]
#define PTR(i, T) (*(T**)A(i))
#define LL(i) (*(long long*)A(i))
#define INT(i) (*(int*)A(i))
#define FLT(i) (*(float*)A(i))
#define DBL(i) (*(double*)A(i))
#define CHECK(p, bytes, what) do { if (mock_check_device((const void*)(p), (size_t)(bytes), what)) return 1; } while (0)
#define CHECK_OPT(p, bytes, what) do { if ((p) && mock_check_device((const void*)(p), (size_t)(bytes), what)) return 1; } while (0)
#define NEED(cond, ...) do { if (!(cond)) return MOCK_FAIL(__VA_ARGS__); } while (0)

/* The two-pass reductions: partials[b] = this block's share of the grid-stride sum, in double. */
typedef double (*term_fn)(void** args, long long i);
static int partials(unsigned grid, unsigned block, long long n, double* out, term_fn term, void** args) {
    NEED(block == 256, "reduction partials need blockDim 256, got %u", block);
    NEED(grid >= 1 && grid <= 1024, "reduction partials: grid %u outside [1, 1024]", grid);
    CHECK(out, 8ull * grid, "partials");
    for (unsigned b = 0; b < grid; b++) {
        double acc = 0;
        for (unsigned t = 0; t < block; t++)
            for (long long i = (long long)b * block + t; i < n; i += (long long)grid * block) acc += term(args, i);
        out[b] = acc;
    }
    return 0;
}
static double t_sumsq(void** args, long long i) { double v = PTR(0, float)[i]; return v * v; }
static double t_dot(void** args, long long i) { return (double)PTR(0, float)[i] * PTR(1, float)[i]; }
static double t_asam(void** args, long long i) {
    double t = ((double)fabsf(PTR(0, float)[i]) + (double)FLT(3)) * PTR(1, float)[i];
    return t * t;
}

static int k_sumsq_partials(unsigned grid, unsigned block, void** args) {
    long long n = LL(1);
    CHECK(PTR(0, float), 4 * n, "sumsq_partials x");
    return partials(grid, block, n, PTR(2, double), t_sumsq, args);
}
static int k_dot_partials(unsigned grid, unsigned block, void** args) {
    long long n = LL(2);
    CHECK(PTR(0, float), 4 * n, "dot_partials a");
    CHECK(PTR(1, float), 4 * n, "dot_partials b");
    return partials(grid, block, n, PTR(3, double), t_dot, args);
}
static int k_asam_norm_partials(unsigned grid, unsigned block, void** args) {
    long long n = LL(2);
    CHECK(PTR(0, float), 4 * n, "asam_norm_partials w");
    CHECK(PTR(1, float), 4 * n, "asam_norm_partials g");
    return partials(grid, block, n, PTR(4, double), t_asam, args);
}
static int k_reduce_finalize(unsigned grid, unsigned block, void** args) {
    NEED(grid == 1 && block == 1024, "reduce_finalize needs one block of 1024 threads, got %u x %u", grid, block);
    const double* p = PTR(0, double); int count = INT(1); double* out = PTR(2, double); unsigned* nf = PTR(3, unsigned);
    NEED(count >= 1 && count <= 1024, "reduce_finalize: count %d", count);
    CHECK(p, 8 * count, "reduce_finalize partials"); CHECK(out, 8, "reduce_finalize out"); CHECK_OPT(nf, 4, "reduce_finalize nonfinite");
    double acc = 0;
    for (int i = 0; i < count; i++) acc += p[i];
    *out = acc;
    if (nf) *nf = isfinite(acc) ? 0u : 1u;
    return 0;
}

static int streaming(unsigned grid, unsigned block) {
    NEED(grid >= 1 && block == 256, "streaming kernel launched with grid %u, block %u (needs block 256)", grid, block);
    return 0;
}

/* w[i] = v and, with a shadow, its bf16 rounding in 16 bits: the kernels' store_weight. */
static void store_weight(float* w, uint16_t* shadow, long long i, float v) {
    w[i] = v;
    if (shadow) shadow[i] = mock_to_bf16(v);
}

static int k_sam_perturb(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float *w = PTR(0, float), *g = PTR(1, float), *ws = PTR(2, float), *gs = PTR(3, float); long long n = LL(4);
    const float* sp = PTR(6, float); uint16_t* sh = PTR(7, uint16_t);
    CHECK(w, 4 * n, "sam_perturb w"); CHECK(g, 4 * n, "sam_perturb g"); CHECK(ws, 4 * n, "sam_perturb w_saved");
    CHECK(gs, 4 * n, "sam_perturb g_saved"); CHECK_OPT(sp, 4, "sam_perturb scale_ptr"); CHECK_OPT(sh, 2 * n, "sam_perturb shadow");
    float s = sp ? *sp : FLT(5);
    for (long long i = 0; i < n; i++) { float wi = w[i], gi = g[i]; ws[i] = wi; gs[i] = gi; store_weight(w, sh, i, fmaf(s, gi, wi)); }
    return 0;
}
static int k_asam_perturb(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float *w = PTR(0, float), *g = PTR(1, float), *ws = PTR(2, float), *gs = PTR(3, float); long long n = LL(4);
    const float* sp = PTR(6, float); float eta = FLT(7); uint16_t* sh = PTR(8, uint16_t);
    CHECK(w, 4 * n, "asam_perturb w"); CHECK(g, 4 * n, "asam_perturb g"); CHECK(ws, 4 * n, "asam_perturb w_saved");
    CHECK(gs, 4 * n, "asam_perturb g_saved"); CHECK_OPT(sp, 4, "asam_perturb scale_ptr"); CHECK_OPT(sh, 2 * n, "asam_perturb shadow");
    float s = sp ? *sp : FLT(5);
    for (long long i = 0; i < n; i++) {
        float wi = w[i], gi = g[i], t = fabsf(wi) + eta;
        ws[i] = wi; gs[i] = gi; store_weight(w, sh, i, fmaf(s * t * t, gi, wi));
    }
    return 0;
}
static int k_perturb_scale(unsigned grid, unsigned block, void** args) {
    const double* q = PTR(0, double); float* out = PTR(2, float);
    CHECK(q, 8, "perturb_scale q"); CHECK(out, 4, "perturb_scale out");
    *out = *q > 0 ? (float)(DBL(1) / (sqrt(*q) + 1e-12)) : 0.0f; /* the zero guard (Momentum-SAM's v = 0) */
    return 0;
}

/* decide.cu's struct step_outcome (CudaBackend.OUTCOME) */
typedef struct {
    double sam_loss, sam_sumsq, mu;
    unsigned skipped, pad;
    double prior_mu, prior_var;
    long long prior_observed;
} StepOutcome;

static void begin_outcome(StepOutcome* o, const double* stats, const long long* counters) {
    o->sam_loss = NAN; o->sam_sumsq = NAN; o->mu = NAN; o->skipped = 0;
    o->prior_mu = stats[0]; o->prior_var = stats[1]; o->prior_observed = counters[1];
}
/* A step whose loss or s is not finite (or s < 0) is skipped before anything is decided. */
static int skip_before_decision(double s, double loss, StepOutcome* o, long long* counters, double* stats) {
    if (isfinite(s) && s >= 0 && isfinite(loss)) return 0;
    o->skipped = 1; counters[3] += 1; stats[3] = NAN; stats[4] = NAN;
    return 1;
}
static void finish_decision(int sam, double s, double rho, long long* counters, double* stats, unsigned* flag, float* scale,
                            unsigned long long handle, int set) {
    *flag = sam ? 1u : 0u;
    *scale = (float)(rho / (sqrt(s) + 1e-12));
    stats[2] = s;
    stats[5] = sam ? 1.0 : 0.0;
    if (sam) counters[2] += 1;
    if (set) *(unsigned*)(uintptr_t)handle = sam ? 1u : 0u; /* the stand-in's handle is the condition's address */
}
static int k_decide_adaptive(unsigned grid, unsigned block, void** args) {
    const double* sp = PTR(0, double); const double* lossp = PTR(1, double); double* stats = PTR(2, double);
    long long* counters = PTR(3, long long);
    long long total = LL(4); double delta = DBL(5), l1 = DBL(6), l2 = DBL(7); long long warmup = LL(8); double rho = DBL(9);
    unsigned* flag = PTR(10, unsigned); float* scale = PTR(11, float); StepOutcome* o = PTR(12, StepOutcome);
    unsigned long long handle = *(unsigned long long*)A(13);
    int set = INT(14);
    CHECK(sp, 8, "decide s"); CHECK(lossp, 8, "decide loss"); CHECK(stats, 48, "decide stats"); CHECK(counters, 32, "decide counters");
    CHECK(flag, 4, "decide flag"); CHECK(scale, 4, "decide scale"); CHECK(o, sizeof *o, "decide outcome");
    NEED(!set || handle, "decide: set_condition without a handle");
    double s = *sp; long long t = counters[0];
    begin_outcome(o, stats, counters);
    if (skip_before_decision(s, *lossp, o, counters, stats)) { finish_decision(0, s, rho, counters, stats, flag, scale, handle, set); return 0; }
    double mean = stats[0], var = stats[1];
    if (counters[1] == 0) { mean = s; var = 0; }
    else {
        volatile double keep = 1.0 - delta; /* volatile: no contraction, the host's operation order */
        mean = delta * mean + keep * s;
        volatile double d = s - mean;
        volatile double kd = keep * d;
        var = delta * var + kd * d;
    }
    counters[1] += 1; stats[0] = mean; stats[1] = var;
    double f = total <= 0 ? 0.0 : (double)t / (double)total;
    volatile double a = l1 * f, b = l2 * (1.0 - f);
    double c = a + b, sigma = sqrt(var);
    volatile double cs = c * sigma;
    int sam = t >= warmup && s >= mean + cs;
    stats[3] = sigma; stats[4] = c; o->mu = mean;
    finish_decision(sam, s, rho, counters, stats, flag, scale, handle, set);
    return 0;
}
static int k_decide_table(unsigned grid, unsigned block, void** args) {
    const unsigned char* table = PTR(0, unsigned char); long long len = LL(1); const double* sp = PTR(2, double);
    const double* lossp = PTR(3, double); double* stats = PTR(4, double); long long* counters = PTR(5, long long); double rho = DBL(6);
    unsigned* flag = PTR(7, unsigned); float* scale = PTR(8, float); StepOutcome* o = PTR(9, StepOutcome);
    unsigned long long handle = *(unsigned long long*)A(10);
    int set = INT(11);
    CHECK(table, len, "decide_table table"); CHECK(sp, 8, "decide_table s"); CHECK(lossp, 8, "decide_table loss");
    CHECK(stats, 48, "decide_table stats"); CHECK(counters, 32, "decide_table counters"); CHECK(flag, 4, "decide_table flag");
    CHECK(scale, 4, "decide_table scale"); CHECK(o, sizeof *o, "decide_table outcome");
    NEED(!set || handle, "decide_table: set_condition without a handle");
    long long t = counters[0]; double s = *sp;
    begin_outcome(o, stats, counters);
    int skip = skip_before_decision(s, *lossp, o, counters, stats);
    stats[3] = NAN; stats[4] = NAN;
    finish_decision(!skip && t < len && table[t], s, rho, counters, stats, flag, scale, handle, set);
    return 0;
}
static int k_second_pass_check(unsigned grid, unsigned block, void** args) {
    StepOutcome* o = PTR(0, StepOutcome); double* stats = PTR(1, double); long long* counters = PTR(2, long long);
    const unsigned* flag = PTR(3, const unsigned);
    CHECK(o, sizeof *o, "second_pass_check outcome"); CHECK(stats, 48, "second_pass_check stats"); CHECK(counters, 32, "second_pass_check counters");
    CHECK_OPT(flag, 4, "second_pass_check flag");
    if (flag && *flag == 0) return 0;  /* gated by the SAM flag: nothing on an ERM step */
    if (isfinite(o->sam_loss) && isfinite(o->sam_sumsq)) return 0;
    o->skipped = 1;
    stats[0] = o->prior_mu; stats[1] = o->prior_var; counters[1] = o->prior_observed;
    counters[2] -= 1; counters[3] += 1; stats[5] = 0.0;
    return 0;
}
static int k_step_begin(unsigned grid, unsigned block, void** args) {
    const float* table = PTR(0, float); long long len = LL(1); const long long* counters = PTR(2, long long); float* lr = PTR(3, float);
    CHECK(table, 4 * len, "step_begin lr_table"); CHECK(counters, 32, "step_begin counters"); CHECK(lr, 4, "step_begin lr");
    long long t = counters[0];
    *lr = table[t < len ? t : len - 1];
    return 0;
}
static int k_step_end(unsigned grid, unsigned block, void** args) {
    long long* counters = PTR(0, long long);
    CHECK(counters, 32, "step_end counters");
    counters[0] += 1;
    return 0;
}
static int k_sgd_step(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float* w = PTR(0, float); const float* wsaved = PTR(1, float); const unsigned* rflag = PTR(2, unsigned);
    const float* g = PTR(3, float); const float* v = PTR(4, float); float vscale = FLT(5); const float* vsp = PTR(6, float);
    float* m = PTR(7, float); long long n = LL(8); float lr = FLT(9); const float* lrp = PTR(10, float);
    float mu = FLT(11), wd = FLT(12); int nesterov = INT(13);
    const unsigned* skip = PTR(14, unsigned); uint16_t* sh = PTR(15, uint16_t);
    CHECK_OPT(sh, 2 * n, "sgd_step shadow");
    CHECK(w, 4 * n, "sgd_step w"); CHECK_OPT(wsaved, 4 * n, "sgd_step w_saved"); CHECK_OPT(rflag, 4, "sgd_step restore_flag");
    CHECK(g, 4 * n, "sgd_step g"); CHECK_OPT(v, 4 * n, "sgd_step v"); CHECK_OPT(vsp, 4, "sgd_step v_scale_ptr");
    CHECK(m, 4 * n, "sgd_step m"); CHECK_OPT(lrp, 4, "sgd_step lr_ptr"); CHECK_OPT(skip, 4, "sgd_step skip");
    NEED(!rflag || wsaved, "sgd_step: restore_flag without w_saved");
    int restore = wsaved && (!rflag || *rflag);
    if (skip && *skip) { /* nothing updated; on the SAM path the perturbed weights go back */
        if (restore) for (long long i = 0; i < n; i++) store_weight(w, sh, i, wsaved[i]);
        return 0;
    }
    float rate = lrp ? *lrp : lr, vs = v ? (vsp ? *vsp : vscale) : 0.0f;
    const float* src = restore ? wsaved : w;
    for (long long i = 0; i < n; i++) {
        float wi = src[i], d = g[i] + wd * wi;
        if (v) d += vs * v[i];
        float mi = mu * m[i] + d;
        m[i] = mi;
        store_weight(w, sh, i, wi - rate * (nesterov ? d + mu * mi : mi));
    }
    return 0;
}
static int k_looksam_coef(unsigned grid, unsigned block, void** args) {
    const double *dot = PTR(0, double), *s = PTR(1, double); float* coef = PTR(2, float);
    CHECK(dot, 8, "looksam_coef dot"); CHECK(s, 8, "looksam_coef s"); CHECK(coef, 4, "looksam_coef coef");
    *coef = *s > 0 ? (float)(-(*dot / *s)) : 0.0f;
    return 0;
}
static int k_looksam_norm(unsigned grid, unsigned block, void** args) {
    const double *gv_new = PTR(0, double), *sam_sumsq = PTR(1, double); double floor_sq = DBL(2);
    const unsigned* skip = PTR(3, unsigned); double* gv = PTR(4, double);
    CHECK(gv_new, 8, "looksam_norm gv_new"); CHECK(sam_sumsq, 8, "looksam_norm sam_sumsq"); CHECK_OPT(skip, 4, "looksam_norm skip");
    CHECK(gv, 8, "looksam_norm gv");
    if (skip && *skip) return 0;
    volatile double bound = floor_sq * *sam_sumsq; /* one rounded product, as the host's */
    *gv = *gv_new <= bound ? 0.0 : *gv_new;
    return 0;
}
static int k_looksam_vscale(unsigned grid, unsigned block, void** args) {
    const double *s = PTR(0, double), *gv = PTR(1, double); const unsigned* flag = PTR(2, unsigned); double alpha = DBL(3);
    float* out = PTR(4, float); const unsigned* skip = PTR(5, unsigned); long long* age = PTR(6, long long); long long max_age = LL(7);
    CHECK(s, 8, "looksam_vscale s"); CHECK(gv, 8, "looksam_vscale gv"); CHECK_OPT(flag, 4, "looksam_vscale flag"); CHECK(out, 4, "looksam_vscale out");
    CHECK_OPT(skip, 4, "looksam_vscale skip"); CHECK_OPT(age, 8, "looksam_vscale age");
    int sam = flag && *flag, fresh = 1;
    if (age && !(skip && *skip)) { /* g_v's age, as SamOptimizer.lookSamAge */
        if (sam) *age = 0;
        else if (*gv > 0) { *age += 1; fresh = max_age == 0 || *age <= max_age; }
    }
    *out = (!sam && *gv > 0 && fresh) ? (float)(alpha * sqrt(*s) / sqrt(*gv)) : 0.0f;
    return 0;
}
/* softmax_xent and softmax_xent_bf16 (loss.cu): logits of floats or (bf16) 16-bit values. */
static inline float logit_at(const void* p, long long i, int bf16) {
    return bf16 ? mock_from_bf16(((const uint16_t*)p)[i]) : ((const float*)p)[i];
}
static int softmax_xent(unsigned grid, unsigned block, void** args, int bf16, const char* name) {
    const void* logits = PTR(0, void); const float* labels = PTR(1, float); float *dl = PTR(2, float), *loss = PTR(3, float);
    int n = INT(4), classes = INT(5); unsigned* bad = PTR(6, unsigned);
    NEED((long long)grid * block >= n, "%s: %u x %u threads for %d rows", name, grid, block, n);
    CHECK(logits, (bf16 ? 2ll : 4ll) * n * classes, "softmax_xent logits"); CHECK(labels, 4 * n, "softmax_xent labels");
    CHECK_OPT(dl, 4ll * n * classes, "softmax_xent dlogits"); CHECK(loss, 4 * n, "softmax_xent loss"); CHECK_OPT(bad, 4, "softmax_xent bad_label");
    for (int r = 0; r < n; r++) {
        long long z = (long long)r * classes;
        float yf = labels[r]; int y = (int)yf;
        if (!(yf >= 0) || (float)y != yf || y >= classes) { loss[r] = NAN; if (bad) *bad = 1; continue; }
        float mx = logit_at(logits, z, bf16);
        for (int j = 1; j < classes; j++) mx = fmaxf(mx, logit_at(logits, z + j, bf16));
        float sum = 0;
        for (int j = 0; j < classes; j++) sum += expf(logit_at(logits, z + j, bf16) - mx);
        float lse = mx + logf(sum);
        loss[r] = lse - logit_at(logits, z + y, bf16);
        if (dl) for (int j = 0; j < classes; j++) dl[z + j] = (expf(logit_at(logits, z + j, bf16) - lse) - (j == y ? 1.0f : 0.0f)) * (1.0f / n);
    }
    return 0;
}
static int k_softmax_xent(unsigned grid, unsigned block, void** args) { return softmax_xent(grid, block, args, 0, "softmax_xent"); }
static int k_softmax_xent_bf16(unsigned grid, unsigned block, void** args) { return softmax_xent(grid, block, args, 1, "softmax_xent_bf16"); }
static int k_mean_loss(unsigned grid, unsigned block, void** args) {
    const float* loss = PTR(0, float); int n = INT(1); double* out = PTR(2, double);
    NEED(grid == 1, "mean_loss needs one block");
    CHECK(loss, 4 * n, "mean_loss loss"); CHECK(out, 8, "mean_loss out");
    double acc = 0;
    for (int i = 0; i < n; i++) acc += loss[i];
    *out = acc / n;
    return 0;
}
static int k_add_row_bias(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float* y = PTR(0, float); const float* b = PTR(1, float); int rows = INT(2), cols = INT(3);
    CHECK(y, 4ll * rows * cols, "add_row_bias y"); CHECK(b, 4 * cols, "add_row_bias bias");
    for (long long i = 0; i < (long long)rows * cols; i++) y[i] += b[i % cols];
    return 0;
}
static int k_sum_rows(unsigned grid, unsigned block, void** args) {
    const float* dy = PTR(0, float); float* db = PTR(1, float); int rows = INT(2), cols = INT(3);
    NEED((long long)grid * block >= cols, "sum_rows: %u x %u threads for %d columns", grid, block, cols);
    CHECK(dy, 4ll * rows * cols, "sum_rows dy"); CHECK(db, 4 * cols, "sum_rows db");
    for (int c = 0; c < cols; c++) { float acc = 0; for (int r = 0; r < rows; r++) acc += dy[(long long)r * cols + c]; db[c] = acc; }
    return 0;
}
static int k_relu_forward(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float* x = PTR(0, float); float* y = PTR(1, float); long long n = LL(2);
    CHECK(x, 4 * n, "relu_forward x"); CHECK(y, 4 * n, "relu_forward y");
    for (long long i = 0; i < n; i++) y[i] = fmaxf(x[i], 0.0f);
    return 0;
}
static int k_relu_backward(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float *y = PTR(0, float), *dy = PTR(1, float); float* dx = PTR(2, float); long long n = LL(3);
    CHECK(y, 4 * n, "relu_backward y"); CHECK(dy, 4 * n, "relu_backward dy"); CHECK(dx, 4 * n, "relu_backward dx");
    for (long long i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
    return 0;
}
static int k_round_mantissa(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float* x = PTR(0, float); float* y = PTR(1, float); long long n = LL(2); int drop = INT(3);
    NEED(drop >= 1 && drop <= 23, "round_mantissa: drop %d outside [1, 23]", drop);
    CHECK(x, 4 * n, "round_mantissa x"); CHECK(y, 4 * n, "round_mantissa y");
    unsigned half = (1u << (drop - 1)) - 1u, keep = ~((1u << drop) - 1u);
    for (long long i = 0; i < n; i++) {
        float v = x[i];
        if (v != v) { y[i] = v; continue; }
        unsigned b;
        memcpy(&b, &v, 4);
        b = (b + half + ((b >> drop) & 1u)) & keep;
        memcpy(&y[i], &b, 4);
    }
    return 0;
}
static int k_add(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float *a = PTR(0, float), *b = PTR(1, float); float* o = PTR(2, float); long long n = LL(3);
    CHECK(a, 4 * n, "add a"); CHECK(b, 4 * n, "add b"); CHECK(o, 4 * n, "add out");
    for (long long i = 0; i < n; i++) o[i] = a[i] + b[i];
    return 0;
}
static int k_axpby(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float alpha = FLT(0); const float* ap = PTR(1, float); const float* x = PTR(2, float); float beta = FLT(3);
    const float* y = PTR(4, float); float* o = PTR(5, float); long long n = LL(6); const unsigned* skip = PTR(7, unsigned);
    CHECK_OPT(ap, 4, "axpby alpha_ptr"); CHECK(x, 4 * n, "axpby x"); CHECK(y, 4 * n, "axpby y"); CHECK(o, 4 * n, "axpby out");
    CHECK_OPT(skip, 4, "axpby skip");
    if (skip && *skip) return 0;
    float a = ap ? *ap : alpha;
    for (long long i = 0; i < n; i++) o[i] = a * x[i] + beta * y[i];
    return 0;
}
static int k_fill(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    float* x = PTR(0, float); float v = FLT(1); long long n = LL(2);
    CHECK(x, 4 * n, "fill x");
    for (long long i = 0; i < n; i++) x[i] = v;
    return 0;
}
static int k_copy(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float* s = PTR(0, float); float* d = PTR(1, float); long long n = LL(2);
    CHECK(s, 4 * n, "copy src"); CHECK(d, 4 * n, "copy dst");
    memmove(d, s, 4 * n);
    return 0;
}
/* permute_channels and permute_channels_bf16 (layout.cu): elements of `size` bytes. */
static int permute_channels(unsigned grid, unsigned block, void** args, size_t size, const char* name) {
    if (streaming(grid, block)) return 1;
    const char* s = PTR(0, char); char* d = PTR(1, char); int n = INT(2), c = INT(3); long long hw = LL(4); int to_nhwc = INT(5);
    NEED(n >= 0 && c >= 1 && hw >= 1, "%s: n %d, c %d, hw %lld", name, n, c, hw);
    long long total = (long long)n * c * hw;
    CHECK(s, size * total, name); CHECK(d, size * total, name);
    NEED(total == 0 || (d + size * total <= s || s + size * total <= d), "%s: dst overlaps src", name);
    for (long long b = 0; b < n; b++)
        for (long long ch = 0; ch < c; ch++)
            for (long long p = 0; p < hw; p++) {
                long long nchw = (b * c + ch) * hw + p, nhwc = (b * hw + p) * c + ch;
                if (to_nhwc) memcpy(d + size * nhwc, s + size * nchw, size);
                else memcpy(d + size * nchw, s + size * nhwc, size);
            }
    return 0;
}
static int k_permute_channels(unsigned grid, unsigned block, void** args) { return permute_channels(grid, block, args, 4, "permute_channels"); }
static int k_permute_channels_bf16(unsigned grid, unsigned block, void** args) {
    return permute_channels(grid, block, args, 2, "permute_channels_bf16");
}

/* ------------------------------------------------------------------- bf16 storage (bf16.cu) */
#define BF(p, i) mock_from_bf16((p)[i])
static int k_f32_to_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float* x = PTR(0, float); uint16_t* y = PTR(1, uint16_t); long long n = LL(2);
    CHECK(x, 4 * n, "f32_to_bf16 x"); CHECK(y, 2 * n, "f32_to_bf16 y");
    for (long long i = 0; i < n; i++) y[i] = mock_to_bf16(x[i]);
    return 0;
}
static int k_bf16_to_f32(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const uint16_t* x = PTR(0, uint16_t); float* y = PTR(1, float); long long n = LL(2);
    CHECK(x, 2 * n, "bf16_to_f32 x"); CHECK(y, 4 * n, "bf16_to_f32 y");
    for (long long i = 0; i < n; i++) y[i] = BF(x, i);
    return 0;
}
static int k_relu_forward_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const uint16_t* x = PTR(0, uint16_t); uint16_t* y = PTR(1, uint16_t); long long n = LL(2);
    CHECK(x, 2 * n, "relu_forward_bf16 x"); CHECK(y, 2 * n, "relu_forward_bf16 y");
    for (long long i = 0; i < n; i++) y[i] = BF(x, i) > 0 ? x[i] : 0;
    return 0;
}
static int k_relu_backward_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const uint16_t *y = PTR(0, uint16_t), *dy = PTR(1, uint16_t); uint16_t* dx = PTR(2, uint16_t); long long n = LL(3);
    CHECK(y, 2 * n, "relu_backward_bf16 y"); CHECK(dy, 2 * n, "relu_backward_bf16 dy"); CHECK(dx, 2 * n, "relu_backward_bf16 dx");
    for (long long i = 0; i < n; i++) dx[i] = BF(y, i) > 0 ? dy[i] : 0;
    return 0;
}
static int k_add_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const uint16_t *a = PTR(0, uint16_t), *b = PTR(1, uint16_t); uint16_t* o = PTR(2, uint16_t); long long n = LL(3);
    CHECK(a, 2 * n, "add_bf16 a"); CHECK(b, 2 * n, "add_bf16 b"); CHECK(o, 2 * n, "add_bf16 out");
    for (long long i = 0; i < n; i++) o[i] = mock_to_bf16(BF(a, i) + BF(b, i));
    return 0;
}
static int k_copy_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const uint16_t* s = PTR(0, uint16_t); uint16_t* d = PTR(1, uint16_t); long long n = LL(2);
    CHECK(s, 2 * n, "copy_bf16 src"); CHECK(d, 2 * n, "copy_bf16 dst");
    memmove(d, s, 2 * n);
    return 0;
}
static int k_fill_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    uint16_t* x = PTR(0, uint16_t); float v = FLT(1); long long n = LL(2);
    CHECK(x, 2 * n, "fill_bf16 x");
    uint16_t h = mock_to_bf16(v);
    for (long long i = 0; i < n; i++) x[i] = h;
    return 0;
}
static int k_add_row_bias_round(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    const float* acc = PTR(0, float); const uint16_t* b = PTR(1, uint16_t); uint16_t* y = PTR(2, uint16_t); int rows = INT(3), cols = INT(4);
    CHECK(acc, 4ll * rows * cols, "add_row_bias_round acc"); CHECK_OPT(b, 2 * cols, "add_row_bias_round bias");
    CHECK(y, 2ll * rows * cols, "add_row_bias_round y");
    for (long long i = 0; i < (long long)rows * cols; i++) y[i] = mock_to_bf16(b ? acc[i] + BF(b, i % cols) : acc[i]);
    return 0;
}
static int k_sum_rows_bf16(unsigned grid, unsigned block, void** args) {
    const uint16_t* dy = PTR(0, uint16_t); float* db = PTR(1, float); int rows = INT(2), cols = INT(3);
    NEED((long long)grid * block >= cols, "sum_rows_bf16: %u x %u threads for %d columns", grid, block, cols);
    CHECK(dy, 2ll * rows * cols, "sum_rows_bf16 dy"); CHECK(db, 4 * cols, "sum_rows_bf16 db");
    for (int c = 0; c < cols; c++) { float acc = 0; for (int r = 0; r < rows; r++) acc += BF(dy, (long long)r * cols + c); db[c] = acc; }
    return 0;
}
static int k_channel_bias_bf16(unsigned grid, unsigned block, void** args) {
    if (streaming(grid, block)) return 1;
    uint16_t* y = PTR(0, uint16_t); const uint16_t* b = PTR(1, uint16_t); int n = INT(2), c = INT(3); long long hw = LL(4); int nhwc = INT(5);
    long long total = (long long)n * c * hw;
    CHECK(y, 2 * total, "channel_bias_bf16 y"); CHECK(b, 2 * c, "channel_bias_bf16 bias");
    for (long long i = 0; i < total; i++) {
        int ch = nhwc ? (int)(i % c) : (int)((i / hw) % c);
        y[i] = mock_to_bf16(BF(y, i) + BF(b, ch));
    }
    return 0;
}
static int k_channel_sums_bf16(unsigned grid, unsigned block, void** args) {
    const uint16_t* dy = PTR(0, uint16_t); float* db = PTR(1, float); int n = INT(2), c = INT(3); long long hw = LL(4); int nhwc = INT(5);
    NEED(grid == (unsigned)c && block == 256, "channel_sums_bf16: one block of 256 per channel, got %u x %u for %d", grid, block, c);
    CHECK(dy, 2ll * n * c * hw, "channel_sums_bf16 dy"); CHECK(db, 4 * c, "channel_sums_bf16 db");
    for (int ch = 0; ch < c; ch++) {
        double acc = 0;
        for (long long i = 0; i < (long long)n * hw; i++) {
            long long b = i / hw, p = i % hw;
            acc += BF(dy, nhwc ? (b * hw + p) * c + ch : (b * c + ch) * hw + p);
        }
        db[ch] = (float)acc;
    }
    return 0;
}

/* Name, C signature (as CudaKernels.java declares it), emulation. */
static const MockKernel KERNELS[] = {
    {"sumsq_partials", "PPP", k_sumsq_partials},
    {"reduce_finalize", "PIPP", k_reduce_finalize},
    {"dot_partials", "PPPP", k_dot_partials},
    {"sam_perturb", "PPPPPFPP", k_sam_perturb},
    {"asam_perturb", "PPPPPFPFP", k_asam_perturb},
    {"asam_norm_partials", "PPPFP", k_asam_norm_partials},
    {"perturb_scale", "PDP", k_perturb_scale},
    {"decide_adaptive", "PPPPPDDDPDPPPPI", k_decide_adaptive},
    {"decide_table", "PPPPPPDPPPPI", k_decide_table},
    {"second_pass_check", "PPPP", k_second_pass_check},
    {"step_begin", "PPPP", k_step_begin},
    {"step_end", "P", k_step_end},
    {"sgd_step", "PPPPPFPPPFPFFIPP", k_sgd_step},
    {"looksam_coef", "PPP", k_looksam_coef},
    {"looksam_norm", "PPDPP", k_looksam_norm},
    {"looksam_vscale", "PPPDPPPP", k_looksam_vscale},
    {"softmax_xent", "PPPPIIP", k_softmax_xent},
    {"mean_loss", "PIP", k_mean_loss},
    {"add_row_bias", "PPII", k_add_row_bias},
    {"sum_rows", "PPII", k_sum_rows},
    {"relu_forward", "PPP", k_relu_forward},
    {"relu_backward", "PPPP", k_relu_backward},
    {"add", "PPPP", k_add},
    {"round_mantissa", "PPPI", k_round_mantissa},
    {"axpby", "FPPFPPPP", k_axpby},
    {"fill", "PFP", k_fill},
    {"copy", "PPP", k_copy},
    {"permute_channels", "PPIIPI", k_permute_channels},
    {"f32_to_bf16", "PPP", k_f32_to_bf16},
    {"bf16_to_f32", "PPP", k_bf16_to_f32},
    {"relu_forward_bf16", "PPP", k_relu_forward_bf16},
    {"relu_backward_bf16", "PPPP", k_relu_backward_bf16},
    {"add_bf16", "PPPP", k_add_bf16},
    {"copy_bf16", "PPP", k_copy_bf16},
    {"fill_bf16", "PFP", k_fill_bf16},
    {"add_row_bias_round", "PPPII", k_add_row_bias_round},
    {"sum_rows_bf16", "PPII", k_sum_rows_bf16},
    {"softmax_xent_bf16", "PPPPIIP", k_softmax_xent_bf16},
    {"permute_channels_bf16", "PPIIPI", k_permute_channels_bf16},
    {"channel_bias_bf16", "PPIIPI", k_channel_bias_bf16},
    {"channel_sums_bf16", "PPIIPI", k_channel_sums_bf16},
};

static size_t arg_size(char c) { return c == 'I' || c == 'F' ? 4 : 8; }

/* --------------------------------------------------------------------------------- modules */

struct CUmod_st { int magic; unsigned long long bytes; };

CUresult cuModuleLoadData(CUmodule* m, const void* image) {
    const unsigned char* b = image;
    if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
    /* nvcc's fatbin starts with 0x50 0xed 0x55 0xba (little-endian 0xba55ed50) */
    if (!(b[0] == 0x50 && b[1] == 0xed && b[2] == 0x55 && b[3] == 0xba)) {
        MOCK_FAIL("cuModuleLoadData: the image is not an nvcc fatbin");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    if (mock_fatbin_runs(image, mock_compute_capability(mock_current_device()))) return CUDA_ERROR_NO_BINARY_FOR_GPU;
    unsigned long long bytes = mock_fatbin_bytes(image); /* what the code takes in device memory */
    if (mock_charge((long long)bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
    *m = calloc(1, sizeof(struct CUmod_st));
    (*m)->magic = 1;
    (*m)->bytes = bytes;
    return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) {
    if (!m || m->magic != 1) return CUDA_ERROR_INVALID_HANDLE;
    mock_device_sync(); /* no queued kernel of the module may still run */
    m->magic = 0;
    mock_charge(-(long long)m->bytes);
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
    if (!m || m->magic != 1) return CUDA_ERROR_INVALID_HANDLE;
    for (size_t i = 0; i < sizeof KERNELS / sizeof *KERNELS; i++)
        if (!strcmp(KERNELS[i].name, name)) { *f = (CUfunction)&KERNELS[i]; return CUDA_SUCCESS; }
    MOCK_FAIL("cuModuleGetFunction: no kernel named %s", name);
    return CUDA_ERROR_NOT_FOUND;
}

/* ----------------------------------------------------------------------------------- launches */

static int copy_args(MockNode* node, const MockKernel* k, void** params) {
    if (!params) return MOCK_FAIL("%s: kernelParams is null", k->name);
    size_t nargs = strlen(k->signature);
    if (nargs > MOCK_MAX_ARGS) return MOCK_FAIL("%s: too many arguments", k->name);
    for (size_t i = 0; i < nargs; i++) {
        if (!params[i]) return MOCK_FAIL("%s: argument %zu has no value", k->name, i);
        memset(node->args[i], 0, 8);
        memcpy(node->args[i], params[i], arg_size(k->signature[i]));
    }
    return 0;
}

/* The one way a kernel runs: from a stream's worker, for a launch or a graph's kernel node. */
int mock_run_kernel(const MockNode* node) {
    void* args[MOCK_MAX_ARGS];
    for (int i = 0; i < MOCK_MAX_ARGS; i++) args[i] = (void*)node->args[i];
    if (node->kernel->run(node->grid, node->block, args)) return MOCK_FAIL("kernel %s failed", node->kernel->name);
    return 0;
}

static int launch_shape(const MockKernel* k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem) {
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || !gx || !bx || bx > 1024 || shmem)
        return MOCK_FAIL("%s: unsupported launch shape grid (%u,%u,%u) block (%u,%u,%u) shmem %u", k->name, gx, gy, gz, bx, by, bz, shmem);
    if (bx % 32 && bx != 1) return MOCK_FAIL("%s: block %u is not a multiple of the warp size", k->name, bx);
    return 0;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, CUstream s, void** params, void** extra) {
    const MockKernel* k = (const MockKernel*)f;
    if (!k || extra) return CUDA_ERROR_INVALID_VALUE;
    if (!mock_stream_ok(s)) { MOCK_FAIL("cuLaunchKernel(%s) on the null or an unknown stream", k->name); return CUDA_ERROR_INVALID_HANDLE; }
    if (mock_wrong_device(s, k->name)) return CUDA_ERROR_INVALID_HANDLE;
    if (launch_shape(k, gx, gy, gz, bx, by, bz, shmem)) return CUDA_ERROR_INVALID_VALUE;
    MockNode tmp = {0};
    MockNode* node = s->capture ? mock_graph_add(s->capture, NODE_KERNEL, NULL, 0) : &tmp;
    if (!node) return CUDA_ERROR_INVALID_VALUE;
    node->kernel = k; node->grid = gx; node->block = bx;
    if (copy_args(node, k, params)) return CUDA_ERROR_INVALID_VALUE;  /* the values now: the caller may reuse its holders */
    if (s->capture) return CUDA_SUCCESS;
    return mock_enqueue_kernel(s, node) ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
}

CUresult cuGraphAddKernelNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, const CUDA_KERNEL_NODE_PARAMS* p) {
    const MockKernel* k = p ? (const MockKernel*)p->func : NULL;
    if (!k || p->extra || p->kern || p->ctx) { MOCK_FAIL("cuGraphAddKernelNode: bad parameters"); return CUDA_ERROR_INVALID_VALUE; }
    if (launch_shape(k, p->gridDimX, p->gridDimY, p->gridDimZ, p->blockDimX, p->blockDimY, p->blockDimZ, p->sharedMemBytes))
        return CUDA_ERROR_INVALID_VALUE;
    MockNode* node = mock_graph_add(g, NODE_KERNEL, deps, ndeps);
    if (!node) return CUDA_ERROR_INVALID_VALUE;
    node->kernel = k; node->grid = p->gridDimX; node->block = p->blockDimX;
    if (copy_args(node, k, p->kernelParams)) return CUDA_ERROR_INVALID_VALUE;
    *out = (CUgraphNode)node;
    return CUDA_SUCCESS;
}
