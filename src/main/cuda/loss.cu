// Softmax cross-entropy, forward and backward in one kernel, and the batch's mean loss on the device.
//   softmax_xent: per row r: loss[r] = logsumexp(z_r) − z_r[y_r]; when dlogits is not null,
//     dlogits[r, j] = (softmax(z_r)_j − [j = y_r]) / n. A label that is not an integer class in
//     [0, classes) gives loss NaN and sets *bad_label (checked by the host when it next syncs).
//     softmax_xent_bf16: the same on bf16 logits (loss and dlogits fp32).
//   mean_loss: *out = (Σ loss[0 .. n)) / n in double, in a fixed order.
// Launch: softmax_xent one thread per row (grid ceil(n / 256), blockDim 256): the class count
//   of the models here is small (10 .. 100), so a row is a short sequential loop; mean_loss one
//   block of 256 threads.
// Tested: CudaBackendTest (softmax_xent against the ReferenceBackend, the bad-label flag);
//   CudaKernelsTest (mean_loss against the double sum in order, with NaN and +Inf).
#include "common.cuh"

// One row's loss and gradient; T is float or a 16-bit bf16 (softmax_xent_bf16: a native bf16 run's logits).
template <typename T>
__device__ __forceinline__ void softmax_xent_row(const T* __restrict__ logits, const float* __restrict__ labels,
                                                 float* __restrict__ dlogits, float* __restrict__ loss,
                                                 int n, int classes, unsigned int* __restrict__ bad_label) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    const T* z = logits + (long long)r * classes;
    const float yf = labels[r];
    const int y = (int)yf;
    if (!(yf >= 0.0f) || (float)y != yf || y >= classes) {
        loss[r] = __int_as_float(0x7fc00000);
        if (bad_label) *bad_label = 1u;
        return;
    }
    float mx = value_at(z, 0);
    for (int j = 1; j < classes; j++) mx = fmaxf(mx, value_at(z, j));
    float sum = 0.0f;
    for (int j = 0; j < classes; j++) sum += expf(value_at(z, j) - mx);
    const float lse = mx + logf(sum);
    loss[r] = lse - value_at(z, y);
    if (dlogits) {
        const float inv_n = 1.0f / (float)n;
        float* dz = dlogits + (long long)r * classes;
        for (int j = 0; j < classes; j++) dz[j] = (expf(value_at(z, j) - lse) - (j == y ? 1.0f : 0.0f)) * inv_n;
    }
}

extern "C" __global__ void softmax_xent(const float* __restrict__ logits, const float* __restrict__ labels,
                                        float* __restrict__ dlogits, float* __restrict__ loss,
                                        int n, int classes, unsigned int* __restrict__ bad_label) {
    softmax_xent_row(logits, labels, dlogits, loss, n, classes, bad_label);
}

extern "C" __global__ void softmax_xent_bf16(const unsigned short* __restrict__ logits, const float* __restrict__ labels,
                                             float* __restrict__ dlogits, float* __restrict__ loss,
                                             int n, int classes, unsigned int* __restrict__ bad_label) {
    softmax_xent_row(logits, labels, dlogits, loss, n, classes, bad_label);
}

extern "C" __global__ void mean_loss(const float* __restrict__ loss, int n, double* __restrict__ out) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += loss[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) *out = acc / n;
}
