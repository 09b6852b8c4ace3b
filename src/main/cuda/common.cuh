// Shared device helpers for sam4j's kernels (included by every .cu file of this folder).
//
// Conventions, mirrored by the Java launchers in dev.sam4j.backend.cuda.CudaKernels and by the CPU
// stand-in's emulations (src/test/cuda-mock): every kernel is extern "C" (its name is how the host
// finds it); a pointer or `long long` argument is a 64-bit value, `int`/`unsigned` 32-bit, `float`
// 32-bit, `double` 64-bit. Element counts are `long long`: an arena can exceed 2^31 floats.
//
// Idioms: grid-stride loops (any grid is correct; the grid only tunes speed), warp-shuffle block
// reductions, deterministic two-pass reductions (per-block partials in double, then one block adds
// the partials in a fixed order; no float atomics, so a result is bit-identical run to run for a
// given n), and scalars born on the device passed by pointer (never read back by the host).
#pragma once
#include <cuda_runtime.h>

// Threads per block of the streaming and partial-reduction kernels; the host launches with it.
#define SAM4J_BLOCK 256

#define GRID_STRIDE(i, n)                                                           \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

// A scalar that is either a launch argument or, when `ptr` is not null, read from device memory
// (a value computed on the device earlier in the same stream or graph).
__device__ __forceinline__ float scalar_arg(float value, const float* ptr) {
    return ptr ? *ptr : value;
}

// x rounded to bf16 (8 mantissa bits kept), round to nearest, ties to even, held in a float: the same
// bits as round_mantissa with drop = 16 (elementwise.cu) and the CPU emulation (Precision.BF16). A NaN
// stays itself. The kernels that write the fp32 weights use it to write the layers' bf16 shadow of them
// in the same pass (bf16 runs only; the shadow pointer is null otherwise).
__device__ __forceinline__ float round_bf16(float v) {
    const unsigned int b = __float_as_uint(v);
    return isnan(v) ? v : __uint_as_float((b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u);
}

// bf16 storage (CUDA's native bf16 runs): a bf16 is the top 16 bits of the float it stands for.
// to_bf16: v rounded to nearest even (round_bf16), its top half; a NaN becomes the quiet NaN of its sign (its
// top half alone could read as an infinity). from_bf16: the float a bf16 holds, exactly.
__device__ __forceinline__ unsigned short to_bf16(float v) {
    if (isnan(v)) return (unsigned short)((__float_as_uint(v) >> 16) | 0x7FC0u);
    return (unsigned short)(__float_as_uint(round_bf16(v)) >> 16);
}
__device__ __forceinline__ float from_bf16(unsigned short b) { return __uint_as_float((unsigned int)b << 16); }
// The float a float or a bf16 element stands for: lets one kernel body serve both element types.
__device__ __forceinline__ float value_at(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float value_at(const unsigned short* p, long long i) { return from_bf16(p[i]); }

// Stores w_i and, when `shadow` is not null, its bf16 rounding into the 16-bit shadow the layers read: the
// weight write of every kernel that changes the weights goes through here, so the shadow can never lag.
__device__ __forceinline__ void store_weight(float* __restrict__ w, unsigned short* __restrict__ shadow, long long i, float v) {
    w[i] = v;
    if (shadow != nullptr) shadow[i] = to_bf16(v);
}

__device__ __forceinline__ double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

// Sum over the block, valid in thread 0 only. blockDim.x must be a multiple of 32 (at most 1024);
// call it once per kernel (the shared buffer is not re-synchronised for a second use). The order
// of additions depends only on blockDim, so the result is deterministic.
__device__ __forceinline__ double block_sum(double v) {
    __shared__ double warp_totals[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) warp_totals[warp] = v;
    __syncthreads();
    v = 0.0;
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? warp_totals[lane] : 0.0;
        v = warp_sum(v);
    }
    return v;
}
