// The SGD-with-momentum update (PyTorch convention, dampening 0) in one pass, with its SAM-family
// variants folded into one kernel so that each is one sweep over the arena:
//   source = restore ? w_saved : w                         (SAM: exact restore, then update)
//   d = g + v_scale·v + wd·source                          (LookSAM reuse when v is not null)
//   m = μ·m + d;  w = source − lr·(nesterov ? d + μ·m : m)
// restore: w_saved != null and (restore_flag == null or *restore_flag != 0), so inside a graph the
//   decide kernel's flag chooses, on the device, between the SAM update (restore from w_saved,
//   gradient g_sam) and the ERM update (gradient g) with one kernel node after the IF node.
//   Momentum-SAM passes w_saved without a flag: it always restores the w saved before its one pass
//   (which ran at w − ρ·m/‖m‖).
// skip (may be null): when *skip != 0 the step updates nothing: momentum untouched, and on the SAM
//   path (restore) the saved w is copied back, since w holds the perturbed w + e. Inside the step graph
//   it is the decide kernels' skip flag (decide.cu): pass 1's loss or ‖g‖², or pass 2's loss or
//   ‖g_sam‖², was NaN/±Inf. Decided on the device, with no host synchronisation.
// shadow (may be null): the 16-bit bf16 shadow of w that the layers read in a bf16 run, written in this same
//   pass wherever w is written (the update, and the skip's copy back), so bf16 costs no extra pass.
// lr and v_scale are launch arguments unless their *_ptr is not null (read from device memory:
//   the learning rate of this step, LookSAM's α·‖g‖/‖g_v‖ computed by looksam.cu).
// Launch: any grid, blockDim 256.
// Tested: CudaKernelsTest (restore flag, device lr and v_scale, the skip on both paths) and
//   CudaBackendTest (sgdUpdate, sgdUpdateWithDirection, restoreSgdUpdate) against the
//   ReferenceBackend, fp32 tolerance; DeviceSkipTest and HostDeviceStepAgreementTest in the step graph
//   (Momentum-SAM's unconditional restore and its skip included).
#include "common.cuh"

extern "C" __global__ void sgd_step(float* __restrict__ w, const float* __restrict__ w_saved,
                                    const unsigned int* __restrict__ restore_flag,
                                    const float* __restrict__ g, const float* __restrict__ v,
                                    float v_scale, const float* __restrict__ v_scale_ptr,
                                    float* __restrict__ m, long long n,
                                    float lr, const float* __restrict__ lr_ptr,
                                    float momentum, float weight_decay, int nesterov,
                                    const unsigned int* __restrict__ skip, unsigned short* __restrict__ shadow) {
    const bool restore = w_saved != nullptr && (restore_flag == nullptr || *restore_flag != 0u);
    if (skip != nullptr && *skip != 0u) {
        if (restore) GRID_STRIDE(i, n) store_weight(w, shadow, i, w_saved[i]);
        return;
    }
    const float rate = scalar_arg(lr, lr_ptr);
    const float vs = v != nullptr ? scalar_arg(v_scale, v_scale_ptr) : 0.0f;
    const float* __restrict__ src = restore ? w_saved : w;
    GRID_STRIDE(i, n) {
        const float wi = src[i];
        float d = g[i] + weight_decay * wi;
        if (v != nullptr) d += vs * v[i];
        const float mi = momentum * m[i] + d;
        m[i] = mi;
        store_weight(w, shadow, i, wi - rate * (nesterov ? d + momentum * mi : mi));
    }
}
