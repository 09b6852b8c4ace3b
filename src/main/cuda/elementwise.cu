// Elementwise and small layout kernels of the MLP's layers and of the arena bookkeeping.
//   add_row_bias: y[r, c] += bias[c]            sum_rows: db[c] = Σ_r dy[r, c] (rows in order)
//   relu_forward: y = max(x, 0)                 relu_backward: dx = y > 0 ? dy : 0
//   add: out = a + b                            fill: x = v
//   copy: dst = src (graph-capturable like a memcpy)
//   round_mantissa: y = x rounded to nearest, ties to even, to 23 − drop mantissa bits (16: bf16, 13: TF32),
//     in fp32 storage; NaN kept (sam4j's Precision.round; the CPU backend's VectorOps.roundMantissa, same bits)
//   axpby: out = α·x + β·y (α from *alpha_ptr if set); nothing is written when skip is not null and
//     *skip != 0 (LookSAM's g_v must survive a faulty second pass, decide.cu)
// Launch: any grid, blockDim 256 (sum_rows: one thread per column, grid ceil(cols / 256), so each
//   column is summed in row order: deterministic and coalesced across columns).
// Tested: CudaBackendTest against the ReferenceBackend; axpby with a device alpha and its skip in
//   CudaKernelsTest.
#include "common.cuh"

extern "C" __global__ void add_row_bias(float* __restrict__ y, const float* __restrict__ bias, int rows, int cols) {
    GRID_STRIDE(i, (long long)rows * cols) y[i] += bias[i % cols];
}

extern "C" __global__ void sum_rows(const float* __restrict__ dy, float* __restrict__ db, int rows, int cols) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++) acc += dy[(long long)r * cols + c];
    db[c] = acc;
}

extern "C" __global__ void relu_forward(const float* x, float* y, long long n) {
    GRID_STRIDE(i, n) y[i] = fmaxf(x[i], 0.0f);
}

extern "C" __global__ void relu_backward(const float* __restrict__ y, const float* dy, float* dx, long long n) {
    GRID_STRIDE(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

extern "C" __global__ void round_mantissa(const float* x, float* y, long long n, int drop) {
    const unsigned int half = (1u << (drop - 1)) - 1u, keep = ~((1u << drop) - 1u);
    GRID_STRIDE(i, n) {
        const float v = x[i];
        const unsigned int b = __float_as_uint(v);
        y[i] = isnan(v) ? v : __uint_as_float((b + half + ((b >> drop) & 1u)) & keep);
    }
}

extern "C" __global__ void add(const float* a, const float* b, float* out, long long n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void axpby(float alpha, const float* __restrict__ alpha_ptr, const float* x, float beta,
                                 const float* y, float* out, long long n, const unsigned int* __restrict__ skip) {
    if (skip != nullptr && *skip != 0u) return;
    const float a = scalar_arg(alpha, alpha_ptr);
    GRID_STRIDE(i, n) out[i] = a * x[i] + beta * y[i];
}

extern "C" __global__ void fill(float* __restrict__ x, float value, long long n) {
    GRID_STRIDE(i, n) x[i] = value;
}

extern "C" __global__ void copy(const float* __restrict__ src, float* __restrict__ dst, long long n) {
    GRID_STRIDE(i, n) dst[i] = src[i];
}
