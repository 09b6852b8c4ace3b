// The SAM-or-ERM decision on the device, and the step counter that drives it.
//
//   decide_adaptive: AE-SAM's policy, exactly as dev.sam4j.optim.sam.SharpnessStats and
//     Policy.Adaptive compute it on the host, in double and in the same operation order:
//       first step: μ = s, σ² = 0; later: μ = δ·μ + (1−δ)·s, σ² = δ·σ² + (1−δ)·(s − μ)² (new μ)
//       c = λ1·(t/T) + λ2·(1 − t/T);  SAM iff t ≥ warmup and s ≥ μ + c·σ
//   decide_table: any policy whose verdict does not depend on s (always, never, periodic,
//     Bernoulli): the host's own decider fills a table of verdicts, one byte per step, once per
//     run, so the device takes bit-for-bit the host's decisions (the Bernoulli draws included).
// Both write the SAM flag, the perturbation scale ρ/(√s + 1e-12) (as the host's
// (float)(rho / (Math.sqrt(s) + 1e-12))), a record of the step for the host to read when it likes,
// and, inside a graph (set_condition != 0), the IF node's condition via cudaGraphSetConditional,
// so the SAM branch runs or not without the host ever seeing s.
//   step_begin: *lr = lr_table[min(t, len − 1)] (the learning-rate schedule, uploaded once);
//   step_end:   t += 1.
//
// Device state: counters[0] = step t, [1] = observed s, [2] = SAM steps, [3] = non-finite s seen;
//   stats[0] = μ, [1] = σ², [2] = last s, [3] = last σ, [4] = last c, [5] = last verdict (0/1).
// Why the *_rn intrinsics: nvcc would otherwise contract a·b + c into one fma, and a last-bit
//   difference from the host's arithmetic can flip a decision.
// Launch: one block of one thread (extra threads return).
// Tested: CudaKernelsTest (decisions and statistics equal the host's SharpnessStats bit for bit
//   over a sequence of s); the graph tests check the conditional node.
#include "common.cuh"

__device__ static void finish_decision(bool sam, double s, double rho, long long* counters, double* stats,
                                       unsigned int* flag, float* scale,
                                       cudaGraphConditionalHandle handle, int set_condition) {
    *flag = sam ? 1u : 0u;
    *scale = (float)__ddiv_rn(rho, __dadd_rn(sqrt(s), 1e-12));
    stats[2] = s;
    stats[5] = sam ? 1.0 : 0.0;
    if (sam) counters[2] += 1;
    if (set_condition) cudaGraphSetConditional(handle, sam ? 1u : 0u);
}

extern "C" __global__ void decide_adaptive(const double* __restrict__ s_ptr, double* __restrict__ stats,
                                           long long* __restrict__ counters, long long total,
                                           double delta, double lambda1, double lambda2, long long warmup,
                                           double rho, unsigned int* __restrict__ flag,
                                           float* __restrict__ scale,
                                           cudaGraphConditionalHandle handle, int set_condition) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double s = *s_ptr;
    const long long t = counters[0];
    if (!isfinite(s) || s < 0.0) {
        // The host's SharpnessStats refuses such an s; here the step becomes an ERM step and the
        // count tells the host, which checks it whenever it reads the state.
        counters[3] += 1;
        finish_decision(false, s, rho, counters, stats, flag, scale, handle, set_condition);
        return;
    }
    double mean = stats[0], var = stats[1];
    if (counters[1] == 0) {
        mean = s;
        var = 0.0;
    } else {
        const double keep = 1.0 - delta;
        mean = __dadd_rn(__dmul_rn(delta, mean), __dmul_rn(keep, s));
        const double d = __dadd_rn(s, -mean);
        var = __dadd_rn(__dmul_rn(delta, var), __dmul_rn(__dmul_rn(keep, d), d));
    }
    counters[1] += 1;
    stats[0] = mean;
    stats[1] = var;
    const double f = total <= 0 ? 0.0 : __ddiv_rn((double)t, (double)total);
    const double c = __dadd_rn(__dmul_rn(lambda1, f), __dmul_rn(lambda2, 1.0 - f));
    const double sigma = sqrt(var);
    const bool sam = t >= warmup && s >= __dadd_rn(mean, __dmul_rn(c, sigma));
    stats[3] = sigma;
    stats[4] = c;
    finish_decision(sam, s, rho, counters, stats, flag, scale, handle, set_condition);
}

extern "C" __global__ void decide_table(const unsigned char* __restrict__ table, long long table_len,
                                        const double* __restrict__ s_ptr, double* __restrict__ stats,
                                        long long* __restrict__ counters, double rho,
                                        unsigned int* __restrict__ flag, float* __restrict__ scale,
                                        cudaGraphConditionalHandle handle, int set_condition) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const long long t = counters[0];
    const double s = *s_ptr;
    if (!isfinite(s)) counters[3] += 1;
    const bool sam = t < table_len && table[t] != 0 && isfinite(s);
    finish_decision(sam, s, rho, counters, stats, flag, scale, handle, set_condition);
}

extern "C" __global__ void step_begin(const float* __restrict__ lr_table, long long table_len,
                                      const long long* __restrict__ counters, float* __restrict__ lr) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const long long t = counters[0];
    *lr = lr_table[t < table_len ? t : table_len - 1];
}

extern "C" __global__ void step_end(long long* __restrict__ counters) {
    if (blockIdx.x == 0 && threadIdx.x == 0) counters[0] += 1;
}
