// LookSAM's direction on the device.
//   looksam_coef:   *coef = s > 0 ? −(float)(⟨g, g_sam⟩ / s) : 0, for g_v = g_sam + coef·g built with
//                   axpby (elementwise.cu) reading its alpha from *coef, and skipped (g_v kept) when
//                   the second pass was faulty;
//   looksam_norm:   the stored ‖g_v‖² from the new one, with the host's noise floor
//                   (SamOptimizer.NOISE_FLOOR): a g_v with ‖g_v‖² ≤ floor²·‖g_sam‖² is rounding noise
//                   (g_sam ∥ g, a one-element model) and is stored as 0, so it is never scaled up to
//                   α·‖g‖; as the host's nn <= NOISE_FLOOR * NOISE_FLOOR * ‖g_s‖² ? 0 : nn, with
//                   floor_sq = NOISE_FLOOR² computed by the host. When *skip is set (a faulty second
//                   pass) the stored norm is left as it was, like g_v itself;
//   looksam_vscale: *v_scale = the reuse weight α·√s / ‖g_v‖ of the next ERM steps (0 before the
//                   first SAM step, after a noise-floor g_v, on a SAM step: the update then uses
//                   g_sam alone, and once g_v has expired); as the host computes
//                   (float)(alpha * Math.sqrt(s) / Math.sqrt(gv_sumsq)). With `age` (may be null) it also
//                   keeps g_v's age as SamOptimizer's lookSamAge: 0 on a SAM step, +1 on each ERM step
//                   with a stored g_v (‖g_v‖² > 0), untouched on a skipped step (*skip != 0: the update
//                   kernel changes nothing then, and the host returns before its age moves); the ERM
//                   step reuses g_v only while age ≤ max_age (max_age 0: never expires, the spec).
// Launch: one thread each.
// Tested: CudaKernelsTest (each kernel against the host's arithmetic, bit for bit; the floor with
//   g_sam ∥ g; the age and its expiry against a hand-run of the host's rule, skips included);
//   DeviceSkipTest, HostDeviceStepAgreementTest (aelooksam with max age 4 and 0) and the LookSAM
//   lock-step training test.
#include "common.cuh"

extern "C" __global__ void looksam_coef(const double* __restrict__ dot, const double* __restrict__ s,
                                        float* __restrict__ coef) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double sv = *s;
    *coef = sv > 0.0 ? (float)(-__ddiv_rn(*dot, sv)) : 0.0f;
}

extern "C" __global__ void looksam_norm(const double* __restrict__ gv_new, const double* __restrict__ sam_sumsq,
                                        double floor_sq, const unsigned int* __restrict__ skip,
                                        double* __restrict__ gv_sumsq) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    if (skip != nullptr && *skip != 0u) return;
    const double nn = *gv_new;
    *gv_sumsq = nn <= __dmul_rn(floor_sq, *sam_sumsq) ? 0.0 : nn;
}

extern "C" __global__ void looksam_vscale(const double* __restrict__ s, const double* __restrict__ gv_sumsq,
                                          const unsigned int* __restrict__ sam_flag, double alpha,
                                          float* __restrict__ v_scale, const unsigned int* __restrict__ skip,
                                          long long* __restrict__ age, long long max_age) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double gv = *gv_sumsq;
    const bool sam = sam_flag != nullptr && *sam_flag != 0u;
    bool fresh = true;
    if (age != nullptr && (skip == nullptr || *skip == 0u)) {
        if (sam) {
            *age = 0;
        } else if (gv > 0.0) {
            *age += 1;
            fresh = max_age == 0 || *age <= max_age;
        }
    }
    *v_scale = (!sam && gv > 0.0 && fresh) ? (float)__ddiv_rn(__dmul_rn(alpha, sqrt(*s)), sqrt(gv)) : 0.0f;
}
