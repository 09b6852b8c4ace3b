// The SAM-or-ERM decision on the device, the check of SAM's second pass, and the step counter.
//
//   decide_adaptive: AE-SAM's policy, exactly as dev.sam4j.optim.sam.SharpnessStats and
//     Policy.Adaptive compute it on the host, in double and in the same operation order:
//       first step: μ = s, σ² = 0; later: μ = δ·μ + (1−δ)·s, σ² = δ·σ² + (1−δ)·(s − μ)² (new μ)
//       c = λ1·(t/T) + λ2·(1 − t/T);  SAM iff t ≥ warmup and s ≥ μ + c·σ
//   decide_table: any policy whose verdict does not depend on s (always, never, periodic,
//     Bernoulli): the host's own decider fills a table of verdicts, one byte per step, once per
//     run, so the device takes bit-for-bit the host's decisions (the Bernoulli draws included).
//     ERM's step runs it too, with an all-zero table, for the skip check and the record.
// Both see pass 1's mean loss as well as s: a step whose loss or s is NaN/±Inf (or s < 0) is
// skipped before anything is decided — no SAM branch, the statistic untouched, the skip flag set
// for the update kernel (sgd.cu), counters[3] += 1 — as the host's SamOptimizer skips before its
// policy sees the step. Otherwise they write the SAM flag, the perturbation scale ρ/(√s + 1e-12)
// (as the host's (float)(rho / (Math.sqrt(s) + 1e-12))), the record of the step for the host to
// read when it likes, the statistic as it was before this step (so that second_pass_check can put
// it back), and, inside a graph (set_condition != 0), the IF node's condition via
// cudaGraphSetConditional, so the SAM branch runs or not without the host ever seeing s.
//   second_pass_check (last in the SAM branch): if pass 2's mean loss or ‖g_sam‖² is not finite,
//     the step is skipped after all: skip flag set, the statistic and its count put back, the SAM
//     step uncounted, counters[3] += 1, the record's verdict 0. The SAM flag stays set, so the
//     update kernel restores the saved weights instead of updating. With a SAM-flag pointer (not null)
//     it does nothing on an ERM step: data-parallel ranks run it after the conditional node, on pass 2's
//     all-reduced loss and ‖g_sam‖², since no collective may sit inside the node's body (NCCL issue 1986).
//   step_begin: *lr = lr_table[min(t, len − 1)] (the learning-rate schedule, uploaded once);
//   step_end:   t += 1.
//
// Device state: counters[0] = step t, [1] = observed s, [2] = SAM steps, [3] = skipped steps;
//   stats[0] = μ, [1] = σ², [2] = last s, [3] = last σ, [4] = last c, [5] = last verdict (0/1);
//   struct step_outcome (below; the host's CudaBackend.OUTCOME): the rest of the step's record
//   and the statistic before the decision. On a skipped step σ, c and the record's μ are NaN, and
//   so are they for the table policies, which have no statistic (the host's Decision.plain).
// Why the *_rn intrinsics: nvcc would otherwise contract a·b + c into one fma, and a last-bit
//   difference from the host's arithmetic can flip a decision.
// Launch: one block of one thread (extra threads return).
// Tested: CudaKernelsTest (decisions, statistics, scale and record equal the host's SharpnessStats
//   and policy bit for bit over a long sequence of s with NaN, ±Inf and zeros; the second-pass
//   roll-back); DeviceSkipTest and StepGraphTest through the graph, which also check the conditional node.
#include "common.cuh"

// The part of a step's record that the decision and the second pass write, and the statistic
// before the decision; laid out as in CudaBackend's scratch block (OUTCOME, 56 bytes).
struct step_outcome {
    double sam_loss;           // pass 2's mean loss (NaN when there was no pass 2)
    double sam_sumsq;          // ‖g_sam‖² of pass 2 (NaN when there was no pass 2)
    double mu;                 // the μ the decision compared s with (NaN: none)
    unsigned int skipped;      // 1: this step updated nothing (read by sgd_step and axpby)
    unsigned int pad;
    double prior_mu, prior_var;
    long long prior_observed;
};

__device__ __forceinline__ static double quiet_nan() { return __longlong_as_double(0x7ff8000000000000LL); }

// Starts a step's record: no pass 2 yet, the statistic before the decision saved.
__device__ static void begin_outcome(step_outcome* o, const double* stats, const long long* counters) {
    o->sam_loss = quiet_nan();
    o->sam_sumsq = quiet_nan();
    o->mu = quiet_nan();
    o->skipped = 0u;
    o->prior_mu = stats[0];
    o->prior_var = stats[1];
    o->prior_observed = counters[1];
}

// The step is skipped before any decision: no SAM branch, no statistic.
__device__ static bool skip_before_decision(double s, double loss, step_outcome* o, long long* counters,
                                            double* stats) {
    if (isfinite(s) && s >= 0.0 && isfinite(loss)) return false;
    o->skipped = 1u;
    counters[3] += 1;
    stats[3] = quiet_nan();
    stats[4] = quiet_nan();
    return true;
}

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

extern "C" __global__ void decide_adaptive(const double* __restrict__ s_ptr, const double* __restrict__ loss_ptr,
                                           double* __restrict__ stats, long long* __restrict__ counters,
                                           long long total, double delta, double lambda1, double lambda2,
                                           long long warmup, double rho, unsigned int* __restrict__ flag,
                                           float* __restrict__ scale, step_outcome* __restrict__ outcome,
                                           cudaGraphConditionalHandle handle, int set_condition) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double s = *s_ptr;
    const long long t = counters[0];
    begin_outcome(outcome, stats, counters);
    if (skip_before_decision(s, *loss_ptr, outcome, counters, stats)) {
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
    outcome->mu = mean;
    finish_decision(sam, s, rho, counters, stats, flag, scale, handle, set_condition);
}

extern "C" __global__ void decide_table(const unsigned char* __restrict__ table, long long table_len,
                                        const double* __restrict__ s_ptr, const double* __restrict__ loss_ptr,
                                        double* __restrict__ stats, long long* __restrict__ counters, double rho,
                                        unsigned int* __restrict__ flag, float* __restrict__ scale,
                                        step_outcome* __restrict__ outcome,
                                        cudaGraphConditionalHandle handle, int set_condition) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const long long t = counters[0];
    const double s = *s_ptr;
    begin_outcome(outcome, stats, counters);
    const bool skip = skip_before_decision(s, *loss_ptr, outcome, counters, stats);
    stats[3] = quiet_nan();
    stats[4] = quiet_nan();
    finish_decision(!skip && t < table_len && table[t] != 0, s, rho, counters, stats, flag, scale, handle, set_condition);
}

extern "C" __global__ void second_pass_check(step_outcome* __restrict__ outcome, double* __restrict__ stats,
                                             long long* __restrict__ counters, const unsigned int* __restrict__ flag) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    if (flag != nullptr && *flag == 0u) return;
    if (isfinite(outcome->sam_loss) && isfinite(outcome->sam_sumsq)) return;
    outcome->skipped = 1u;
    stats[0] = outcome->prior_mu;
    stats[1] = outcome->prior_var;
    counters[1] = outcome->prior_observed;
    counters[2] -= 1;
    counters[3] += 1;
    stats[5] = 0.0;
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
