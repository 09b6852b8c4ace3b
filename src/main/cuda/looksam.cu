// LookSAM's direction on the device.
//   looksam_coef:   *coef = s > 0 ? −(float)(⟨g, g_sam⟩ / s) : 0, for g_v = g_sam + coef·g built with
//                   axpby (elementwise.cu) reading its alpha from *coef;
//   looksam_vscale: *v_scale = the reuse weight α·√s / ‖g_v‖ of the next ERM steps (0 before the
//                   first SAM step, and 0 on a SAM step: the update then uses g_sam alone); as the
//                   host computes (float)(alpha * Math.sqrt(s) / Math.sqrt(gv_sumsq)).
// Launch: one thread each.
// Tested: CudaKernelsTest; the LookSAM lock-step training test.
#include "common.cuh"

extern "C" __global__ void looksam_coef(const double* __restrict__ dot, const double* __restrict__ s,
                                        float* __restrict__ coef) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double sv = *s;
    *coef = sv > 0.0 ? (float)(-__ddiv_rn(*dot, sv)) : 0.0f;
}

extern "C" __global__ void looksam_vscale(const double* __restrict__ s, const double* __restrict__ gv_sumsq,
                                          const unsigned int* __restrict__ sam_flag, double alpha,
                                          float* __restrict__ v_scale) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double gv = *gv_sumsq;
    const bool sam = sam_flag != nullptr && *sam_flag != 0u;
    *v_scale = (!sam && gv > 0.0) ? (float)__ddiv_rn(__dmul_rn(alpha, sqrt(*s)), sqrt(gv)) : 0.0f;
}
