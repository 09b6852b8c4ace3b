// Dot product  Σ a[i]·b[i]  (LookSAM's ⟨g, g_sam⟩), deterministic: per-block double partials,
// finished by reduce_finalize (sumsq.cu) in a fixed order.
//
// Launch: grid P = min(1024, ceil(n / 256)), blockDim 256 (the same rule as sumsq_partials).
// Tested: CudaBackendTest (dot against the ReferenceBackend over sizes 1 .. 11M; CudaKernelsTest.TESTED_BY
//   lists the test of every kernel).
#include "common.cuh"

extern "C" __global__ void dot_partials(const float* __restrict__ a, const float* __restrict__ b,
                                        long long n, double* __restrict__ partials) {
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)a[i] * (double)b[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}
