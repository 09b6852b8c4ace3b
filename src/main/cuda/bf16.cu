// bf16 storage: the layer kernels of CUDA's native bf16 runs, on 16-bit buffers (a bf16 is the top half of the
// float it stands for: common.cuh's to_bf16 rounds to nearest even, from_bf16 widens exactly). Each computes in
// fp32 and rounds once where it stores, as the CPU's bf16 emulation rounds what a layer stores.
//   f32_to_bf16: y = bf16(x)                    bf16_to_f32: y = x (exact)
//   relu_forward_bf16, relu_backward_bf16, add_bf16, copy_bf16, fill_bf16: as their fp32 forms (elementwise.cu)
//   add_row_bias_round: y[r, c] = bf16(acc[r, c] + bias[c]) from an fp32 GEMM result, bias bf16 (the weights'
//     shadow; may be null): a Linear's output rounded once, bias included
//   sum_rows_bf16: db[c] = Σ_r dy[r, c] in fp32, rows in order (as sum_rows)
//   channel_bias_bf16: y = bf16(y + bias[ch]), bias bf16, over an image batch in NCHW or NHWC (a convolution's bias)
//   channel_sums_bf16: db[ch] = Σ over n and positions of dy in double, in a fixed order (its bias gradient)
// Launch: streaming kernels any grid, blockDim 256; sum_rows_bf16 one thread per column (grid ceil(cols / 256));
//   channel_sums_bf16 one block of 256 per channel. (The 16-bit forms of the permutation and the loss,
//   permute_channels_bf16 and softmax_xent_bf16, are in layout.cu and loss.cu with the float ones.)
// Tested: CudaNativeBf16Test against the ReferenceBackend on bf16-rounded values; the bf16 graph step and the
//   trainer against the CPU's bf16 emulation (CudaPrecisionTest, CudaBf16ShadowTest).
#include "common.cuh"

typedef unsigned short bf16_t;

extern "C" __global__ void f32_to_bf16(const float* __restrict__ x, bf16_t* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) y[i] = to_bf16(x[i]);
}

extern "C" __global__ void bf16_to_f32(const bf16_t* __restrict__ x, float* __restrict__ y, long long n) {
    GRID_STRIDE(i, n) y[i] = from_bf16(x[i]);
}

extern "C" __global__ void relu_forward_bf16(const bf16_t* x, bf16_t* y, long long n) {
    GRID_STRIDE(i, n) y[i] = from_bf16(x[i]) > 0.0f ? x[i] : (bf16_t)0;  // NaN to 0, as fmaxf in relu_forward
}

extern "C" __global__ void relu_backward_bf16(const bf16_t* __restrict__ y, const bf16_t* dy, bf16_t* dx, long long n) {
    GRID_STRIDE(i, n) dx[i] = from_bf16(y[i]) > 0.0f ? dy[i] : (bf16_t)0;
}

extern "C" __global__ void add_bf16(const bf16_t* a, const bf16_t* b, bf16_t* out, long long n) {
    GRID_STRIDE(i, n) out[i] = to_bf16(from_bf16(a[i]) + from_bf16(b[i]));
}

extern "C" __global__ void copy_bf16(const bf16_t* __restrict__ src, bf16_t* __restrict__ dst, long long n) {
    GRID_STRIDE(i, n) dst[i] = src[i];
}

extern "C" __global__ void fill_bf16(bf16_t* __restrict__ x, float value, long long n) {
    const bf16_t v = to_bf16(value);
    GRID_STRIDE(i, n) x[i] = v;
}

extern "C" __global__ void add_row_bias_round(const float* __restrict__ acc, const bf16_t* __restrict__ bias,
                                              bf16_t* __restrict__ y, int rows, int cols) {
    GRID_STRIDE(i, (long long)rows * cols) y[i] = to_bf16(bias ? acc[i] + from_bf16(bias[i % cols]) : acc[i]);
}

extern "C" __global__ void sum_rows_bf16(const bf16_t* __restrict__ dy, float* __restrict__ db, int rows, int cols) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++) acc += from_bf16(dy[(long long)r * cols + c]);
    db[c] = acc;
}

extern "C" __global__ void channel_bias_bf16(bf16_t* __restrict__ y, const bf16_t* __restrict__ bias, int n, int c,
                                             long long hw, int nhwc) {
    GRID_STRIDE(i, (long long)n * c * hw) {
        const int ch = nhwc ? (int)(i % c) : (int)((i / hw) % c);
        y[i] = to_bf16(from_bf16(y[i]) + from_bf16(bias[ch]));
    }
}

extern "C" __global__ void channel_sums_bf16(const bf16_t* __restrict__ dy, float* __restrict__ db, int n, int c,
                                             long long hw, int nhwc) {
    const int ch = blockIdx.x;
    const long long count = (long long)n * hw;
    double acc = 0.0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) {
        const long long b = i / hw, p = i % hw;
        acc += from_bf16(dy[nhwc ? (b * hw + p) * c + ch : (b * c + ch) * hw + p]);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) db[ch] = (float)acc;
}
