// Sum of squares  s = Σ x[i]²  (the squared gradient norm of SAM and AE-SAM), deterministic, two
// passes: sumsq_partials writes one double per block, reduce_finalize adds them in a fixed order in
// one block and raises a non-finite flag. reduce_finalize also finishes dot.cu's and sam.cu's
// partials.
//
// Launch: sumsq_partials with grid P = min(1024, ceil(n / 256)) (a function of n only, so the
//   summation order and the result do not depend on the GPU) and blockDim 256; reduce_finalize
//   with exactly one block of 1024 threads over the P partials.
// Why double: squares of floats are exact in double, and the CPU reference accumulates in double;
//   the sum of any finite floats' squares cannot overflow a double, so "the sum is not finite"
//   is exactly "some element was NaN or ±Inf": the non-finite check costs nothing extra.
// Tested: CudaBackendTest (vs the ReferenceBackend over sizes 1 .. 11M on a GPU, bit-identical reruns)
//   and CudaKernelsTest (the non-finite flag: set exactly when an element is NaN or ±Inf); the same tests
//   against the CPU stand-in check the launches.
#include "common.cuh"

extern "C" __global__ void sumsq_partials(const float* __restrict__ x, long long n,
                                          double* __restrict__ partials) {
    double acc = 0.0;
    GRID_STRIDE(i, n) {
        const double v = x[i];
        acc += v * v;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// *out = Σ partials[0 .. count) in a fixed order; *nonfinite = 1 if that sum is NaN or ±Inf
// (nonfinite may be null).
extern "C" __global__ void reduce_finalize(const double* __restrict__ partials, int count,
                                           double* __restrict__ out, unsigned int* __restrict__ nonfinite) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
        *out = acc;
        if (nonfinite) *nonfinite = isfinite(acc) ? 0u : 1u;
    }
}
