// SAM's and ASAM's perturbation, each one pass over the arena, plus ASAM's normaliser and the
// perturbation scale computed on the device.
//
//   sam_perturb:        w_saved = w; g_saved = g; w = w + scale·g
//   asam_perturb:       w_saved = w; g_saved = g; w = w + scale·(|w| + η)²·g
//   asam_norm_partials: per-block partials of Σ ((|w| + η)·g)², finished by reduce_finalize
//   perturb_scale:      *scale = q > 0 ? (float)(ρ / (√q + 1e-12)) : 0 from a device q (ASAM's ‖T_w·g‖²,
//                       or Momentum-SAM's ‖v‖² with ρ negated: w̃ = w − ρ·v/‖v‖)
// The zero guard is Momentum-SAM's first step (v = 0: no perturbation, a plain SGD step, as the host's
//   `vv > 0` test), decided on the device. It moves no weight for ASAM either: q = 0 means every
//   (|w| + η)·g is 0, so the perturbation is 0 whatever the scale; the guard only keeps a large ρ from
//   making ρ·1e12 overflow to Inf and Inf·0 = NaN.
// shadow (may be null): the 16-bit bf16 shadow of w that the layers read in a bf16 run, written in this same
//   pass (store_weight, common.cuh), so bf16 costs no extra pass over the arena.
// `scale` is a launch argument unless `scale_ptr` is not null: then it is read from device memory,
// where perturb_scale or decide (decide.cu) put it, so the host never sees ‖g‖.
//
// Launch: streaming kernels any grid, blockDim 256; asam_norm_partials grid P = min(1024,
//   ceil(n / 256)); perturb_scale one thread.
// Tested: CudaBackendTest (the perturbations with a host scale, asam_norm_partials) and CudaKernelsTest
//   (the scale read from device memory; perturb_scale bit for bit against the host's arithmetic, its
//   zero guard and a negative ρ), against the ReferenceBackend; Momentum-SAM's perturbation along the
//   momentum arena in the step graph by HostDeviceStepAgreementTest, StepGraphTest and DeviceSkipTest.
#include "common.cuh"

extern "C" __global__ void sam_perturb(float* __restrict__ w, const float* __restrict__ g,
                                       float* __restrict__ w_saved, float* __restrict__ g_saved,
                                       long long n, float scale, const float* __restrict__ scale_ptr,
                                       unsigned short* __restrict__ shadow) {
    const float s = scalar_arg(scale, scale_ptr);
    GRID_STRIDE(i, n) {
        const float wi = w[i], gi = g[i];
        w_saved[i] = wi;
        g_saved[i] = gi;
        store_weight(w, shadow, i, fmaf(s, gi, wi));
    }
}

extern "C" __global__ void asam_perturb(float* __restrict__ w, const float* __restrict__ g,
                                        float* __restrict__ w_saved, float* __restrict__ g_saved,
                                        long long n, float scale, const float* __restrict__ scale_ptr,
                                        float eta, unsigned short* __restrict__ shadow) {
    const float s = scalar_arg(scale, scale_ptr);
    GRID_STRIDE(i, n) {
        const float wi = w[i], gi = g[i];
        const float t = fabsf(wi) + eta;
        w_saved[i] = wi;
        g_saved[i] = gi;
        store_weight(w, shadow, i, fmaf(s * t * t, gi, wi));
    }
}

extern "C" __global__ void asam_norm_partials(const float* __restrict__ w, const float* __restrict__ g,
                                              long long n, float eta, double* __restrict__ partials) {
    double acc = 0.0;
    GRID_STRIDE(i, n) {
        const double t = ((double)fabsf(w[i]) + (double)eta) * (double)g[i];
        acc += t * t;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// The same double arithmetic as the host's (float)(rho / (Math.sqrt(q) + 1e-12)): IEEE sqrt and
// division, no contraction possible (one operation each). (float)(−ρ/x) is exactly −(float)(ρ/x), so
// Momentum-SAM's negated ρ gives the host's −ρ/(√‖v‖² + 1e-12) bit for bit.
extern "C" __global__ void perturb_scale(const double* __restrict__ q, double rho, float* __restrict__ scale) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double qv = *q;
    *scale = qv > 0.0 ? (float)__ddiv_rn(rho, __dadd_rn(sqrt(qv), 1e-12)) : 0.0f;
}
