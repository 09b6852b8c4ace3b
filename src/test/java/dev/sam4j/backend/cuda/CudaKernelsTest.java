package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.optim.sam.Decision;
import dev.sam4j.optim.sam.Policy;
import dev.sam4j.optim.sam.SharpnessStats;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every kernel of {@code src/main/cuda} against the CPU reference, launched directly with the arguments the step
 * graph gives it (device scalars, flags, the skip): the decide kernels against {@link SharpnessStats} and the host's
 * policies bit for bit over a long sequence of {@code s} with NaN, ±Inf, zeros and non-finite losses, the
 * second-pass check's roll-back, the one-thread kernels against the host's double arithmetic bit for bit, and the
 * streaming kernels' device-pointer variants against the {@link ReferenceBackend}. The kernels that the backend's
 * own operations launch with host arguments are tested through those operations in {@link CudaBackendTest};
 * {@link #everyKernelHasAReferenceTest} holds the table of which test covers which kernel. On a GPU this tests the
 * CUDA kernels themselves; against the CPU stand-ins, their C emulations and the launchers.
 */
@Tag("gpu")
class CudaKernelsTest {
    /** Kernel name → the test that checks it against the CPU reference. */
    static final Map<String, String> TESTED_BY = new TreeMap<>(Map.ofEntries(
            Map.entry("sumsq_partials", "CudaBackendTest#reductionsAreDeterministicAndMatchTheReference"),
            Map.entry("reduce_finalize", "CudaKernelsTest#reductionsFlagExactlyTheNonFiniteSums"),
            Map.entry("dot_partials", "CudaBackendTest#reductionsAreDeterministicAndMatchTheReference"),
            Map.entry("asam_norm_partials", "CudaBackendTest#reductionsAreDeterministicAndMatchTheReference"),
            Map.entry("sam_perturb", "CudaKernelsTest#streamingKernelsWithDeviceScalarsMatchTheReference"),
            Map.entry("asam_perturb", "CudaKernelsTest#streamingKernelsWithDeviceScalarsMatchTheReference"),
            Map.entry("perturb_scale", "CudaKernelsTest#oneThreadKernelsEqualTheHostArithmeticBitForBit"),
            Map.entry("decide_adaptive", "CudaKernelsTest#decideAdaptiveEqualsSharpnessStatsBitForBit"),
            Map.entry("decide_table", "CudaKernelsTest#decideTableTakesTheHostsVerdictsAndSkipsNonFiniteSteps"),
            Map.entry("second_pass_check", "CudaKernelsTest#decideAdaptiveEqualsSharpnessStatsBitForBit"),
            Map.entry("step_begin", "CudaKernelsTest#stepBeginAndEndIndexTheLearningRateTable"),
            Map.entry("step_end", "CudaKernelsTest#stepBeginAndEndIndexTheLearningRateTable"),
            Map.entry("sgd_step", "CudaKernelsTest#streamingKernelsWithDeviceScalarsMatchTheReference"),
            Map.entry("looksam_coef", "CudaKernelsTest#oneThreadKernelsEqualTheHostArithmeticBitForBit"),
            Map.entry("looksam_norm", "CudaKernelsTest#oneThreadKernelsEqualTheHostArithmeticBitForBit"),
            Map.entry("looksam_vscale", "CudaKernelsTest#oneThreadKernelsEqualTheHostArithmeticBitForBit"),
            Map.entry("softmax_xent", "CudaBackendTest#biasAndLossMatchTheReference"),
            Map.entry("mean_loss", "CudaKernelsTest#meanLossIsTheMeanInDouble"),
            Map.entry("add_row_bias", "CudaBackendTest#biasAndLossMatchTheReference"),
            Map.entry("sum_rows", "CudaBackendTest#biasAndLossMatchTheReference"),
            Map.entry("relu_forward", "CudaBackendTest#elementwiseMatchesTheReference"),
            Map.entry("relu_backward", "CudaBackendTest#elementwiseMatchesTheReference"),
            Map.entry("add", "CudaBackendTest#elementwiseMatchesTheReference"),
            Map.entry("axpby", "CudaKernelsTest#streamingKernelsWithDeviceScalarsMatchTheReference"),
            Map.entry("fill", "CudaBackendTest#elementwiseMatchesTheReference"),
            Map.entry("copy", "CudaBackendTest#elementwiseMatchesTheReference"),
            Map.entry("round_mantissa", "CudaPrecisionTest#roundingIsTheReferenceBitForBit"),
            Map.entry("permute_channels", "CudaChannelsLastTest#permutationMatchesThePlainOneBothWays"),
            Map.entry("f32_to_bf16", "CudaNativeBf16Test#conversionsAreTheEmulationsBitForBit"),
            Map.entry("bf16_to_f32", "CudaNativeBf16Test#conversionsAreTheEmulationsBitForBit"),
            Map.entry("copy_bf16", "CudaNativeBf16Test#conversionsAreTheEmulationsBitForBit"),
            Map.entry("fill_bf16", "CudaNativeBf16Test#conversionsAreTheEmulationsBitForBit"),
            Map.entry("relu_forward_bf16", "CudaNativeBf16Test#elementwiseOpsAreTheEmulationsBitForBit"),
            Map.entry("relu_backward_bf16", "CudaNativeBf16Test#elementwiseOpsAreTheEmulationsBitForBit"),
            Map.entry("add_bf16", "CudaNativeBf16Test#elementwiseOpsAreTheEmulationsBitForBit"),
            Map.entry("permute_channels_bf16", "CudaNativeBf16Test#elementwiseOpsAreTheEmulationsBitForBit"),
            Map.entry("add_row_bias_round", "CudaNativeBf16Test#gemmBiasAndLossMatchTheEmulation"),
            Map.entry("sum_rows_bf16", "CudaNativeBf16Test#gemmBiasAndLossMatchTheEmulation"),
            Map.entry("softmax_xent_bf16", "CudaNativeBf16Test#gemmBiasAndLossMatchTheEmulation"),
            Map.entry("channel_bias_bf16", "CudaNativeBf16Test#convolutionPoolingAndBatchNormMatchTheEmulation"),
            Map.entry("channel_sums_bf16", "CudaNativeBf16Test#convolutionPoolingAndBatchNormMatchTheEmulation")));

    private static CudaBackend cuda;
    private static final ReferenceBackend ref = new ReferenceBackend();
    private final List<CudaBuffer> owned = new ArrayList<>();

    @BeforeEach
    void open() {
        CudaTestSupport.requireCuda();
        if (cuda == null) cuda = new CudaBackend(0, false);
    }

    @AfterEach
    void free() {
        for (CudaBuffer b : owned) b.close();
        owned.clear();
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
        cuda = null;
    }

    @Test
    void everyKernelHasAReferenceTest() throws Exception {
        TreeSet<String> kernels = new TreeSet<>();
        for (Field f : CudaKernels.class.getDeclaredFields()) {
            if (f.getType() == Kernel.class) kernels.add(((Kernel) f.get(cuda.k)).name);
        }
        assertEquals(kernels, new TreeSet<>(TESTED_BY.keySet()), "kernels without a test entry, or entries without a kernel");
        for (var e : TESTED_BY.entrySet()) {
            String[] at = e.getValue().split("#");
            Class<?> c = Class.forName(getClass().getPackageName() + "." + at[0]);
            boolean found = Arrays.stream(c.getDeclaredMethods()).map(Method::getName).anyMatch(at[1]::equals);
            assertTrue(found, e.getKey() + ": " + e.getValue() + " does not exist");
        }
    }

    // ----------------------------------------------------------------------------- the decision

    /** Byte offsets of the step state, as the step graph lays it out (CudaBackend's scratch block). */
    private static final int S = off(CudaBackend.S), LOSS = off(CudaBackend.MEAN_LOSS), FLAG = off(CudaBackend.FLAG),
            SCALE = off(CudaBackend.SCALE), COUNTERS = off(CudaBackend.COUNTERS), STATS = off(CudaBackend.STATS),
            OUTCOME = off(CudaBackend.OUTCOME), SAM_LOSS = off(CudaBackend.SAM_LOSS), SAM_SUMSQ = off(CudaBackend.SAM_SUMSQ),
            MU = off(CudaBackend.DECISION_MU), SKIP = off(CudaBackend.SKIP);

    private static int off(long scratchOffset) { return (int) (scratchOffset - CudaBackend.S); }

    /** A long sequence of s: log-normal around a drifting level, with NaN, ±Inf, ±0, a negative, denormals and spikes. */
    static double[] sequence(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] s = new double[n];
        double level = 1;
        for (int t = 0; t < n; t++) {
            level *= Math.exp(0.02 * r.nextGaussian());
            s[t] = level * Math.exp(1.5 * r.nextGaussian());
            if (r.nextInt(40) == 0) s[t] *= 1e3;
        }
        double[][] specials = {{7, Double.NaN}, {8, 0.0}, {19, Double.POSITIVE_INFINITY}, {20, -0.0}, {33, Double.NEGATIVE_INFINITY},
                {34, -1.0}, {50, Double.MIN_VALUE}, {51, 1e-300}, {90, 0.0}, {91, 0.0}, {500, Double.NaN}, {1200, 1e150}, {1201, 0.0}};
        for (double[] sp : specials) if (sp[0] < n) s[(int) sp[0]] = sp[1];
        return s;
    }

    /** Mostly finite mean losses, some NaN / +Inf where s itself is finite. */
    static double loss(int t) {
        return t == 12 || t == 301 ? Double.NaN : t == 13 || t == 777 ? Double.POSITIVE_INFINITY : 2.3 - 1e-3 * (t % 100);
    }

    @Test
    void decideAdaptiveEqualsSharpnessStatsBitForBit() {
        int n = 1500, warmup = 5;
        double delta = 0.9, l1 = -1, l2 = 1, rho = 0.05;
        double[] s = sequence(n, 3);
        Policy.AdaptiveDecider host = (Policy.AdaptiveDecider) new Policy.Adaptive(delta, l1, l2, warmup).start(0);
        SharpnessStats stats = host.stats();
        long state = alloc(CudaBackend.SCRATCH_BYTES - CudaBackend.S);
        long samSteps = 0, skipped = 0, secondPassFaults = 0, decisions = 0, samDecisions = 0;
        for (int t = 0; t < n; t++) {
            write(state + S, s[t]);
            write(state + LOSS, loss(t));
            cuda.k.decideAdaptive.p(0, state + S).p(1, state + LOSS).p(2, state + STATS).p(3, state + COUNTERS).p(4, n).d(5, delta)
                    .d(6, l1).d(7, l2).p(8, warmup).d(9, rho).p(10, state + FLAG).p(11, state + SCALE).p(12, state + OUTCOME)
                    .p(13, 0).i(14, 0).launch(cuda.ctx.stream, 1, 1);
            ByteBuffer b = read(state, StepGraph.RECORD_BYTES);
            String at = "step " + t + ", s " + s[t] + ", loss " + loss(t) + ": ";
            boolean skip = !Double.isFinite(loss(t)) || !Double.isFinite(s[t]) || s[t] < 0;
            double priorMean = stats.mean(), priorVariance = stats.variance();
            long priorObserved = stats.observed();
            Decision d = skip ? new Decision(false, Double.NaN, Double.NaN, Double.NaN) : host.decide(t, n, s[t]);
            skipped += skip ? 1 : 0;
            samSteps += d.sam() ? 1 : 0;
            decisions += skip ? 0 : 1;
            assertEquals(d.sam() ? 1 : 0, b.getInt(FLAG), at + "SAM flag");
            assertEquals(skip ? 1 : 0, b.getInt(SKIP), at + "skip flag");
            assertBits(stats.mean(), b.getDouble(STATS), at + "mu");
            assertBits(stats.variance(), b.getDouble(STATS + 8), at + "variance");
            assertBits(s[t], b.getDouble(STATS + 16), at + "recorded s");
            assertBits(d.sigma(), b.getDouble(STATS + 24), at + "sigma");
            assertBits(d.c(), b.getDouble(STATS + 32), at + "c");
            assertBits(d.sam() ? 1 : 0, b.getDouble(STATS + 40), at + "verdict");
            assertBits(d.mu(), b.getDouble(MU), at + "the decision's mu");
            assertEquals((float) (rho / (Math.sqrt(s[t]) + 1e-12)), b.getFloat(SCALE), 0f, at + "perturbation scale");
            assertEquals(t, b.getLong(COUNTERS), at + "step counter");
            assertEquals(stats.observed(), b.getLong(COUNTERS + 8), at + "observed");
            assertEquals(samSteps, b.getLong(COUNTERS + 16), at + "SAM steps");
            assertEquals(skipped, b.getLong(COUNTERS + 24), at + "skipped steps");
            assertTrue(Double.isNaN(b.getDouble(SAM_LOSS)) && Double.isNaN(b.getDouble(SAM_SUMSQ)), at + "no pass 2 yet");
            if (d.sam()) {
                // The SAM branch ends with the second-pass check: every fifth SAM step, a fault in pass 2 alone.
                samDecisions++;
                boolean fault = samDecisions % 5 == 2;
                write(state + SAM_LOSS, fault && samDecisions % 2 == 0 ? Double.POSITIVE_INFINITY : 1.5);
                write(state + SAM_SUMSQ, fault && samDecisions % 2 == 1 ? Double.NaN : 4.25);
                // Ungated (one rank) or gated by the SAM flag, which is set here (ranks run it after the conditional node).
                cuda.k.secondPassCheck(state + OUTCOME, state + STATS, state + COUNTERS, samDecisions % 3 == 0 ? 0 : state + FLAG);
                if (fault) {
                    stats.restore(priorMean, priorVariance, priorObserved);
                    samSteps--;
                    skipped++;
                    secondPassFaults++;
                }
                ByteBuffer c = read(state, StepGraph.RECORD_BYTES);
                assertEquals(fault ? 1 : 0, c.getInt(SKIP), at + "skip flag after the second-pass check");
                assertEquals(1, c.getInt(FLAG), at + "the SAM flag stays (the update restores the weights)");
                assertBits(fault ? 0 : 1, c.getDouble(STATS + 40), at + "verdict after the second-pass check");
                assertBits(stats.mean(), c.getDouble(STATS), at + "mu after the second-pass check");
                assertBits(stats.variance(), c.getDouble(STATS + 8), at + "variance after the second-pass check");
                assertEquals(stats.observed(), c.getLong(COUNTERS + 8), at + "observed after the second-pass check");
                assertEquals(samSteps, c.getLong(COUNTERS + 16), at + "SAM steps after the second-pass check");
                assertEquals(skipped, c.getLong(COUNTERS + 24), at + "skipped steps after the second-pass check");
            } else {
                // Gated by the SAM flag, the check does nothing on an ERM (or skipped) step, though pass 2's loss is NaN there.
                cuda.k.secondPassCheck(state + OUTCOME, state + STATS, state + COUNTERS, state + FLAG);
                ByteBuffer c = read(state, StepGraph.RECORD_BYTES);
                assertEquals(skip ? 1 : 0, c.getInt(SKIP), at + "skip flag after the gated check on an ERM step");
                assertBits(stats.mean(), c.getDouble(STATS), at + "mu after the gated check on an ERM step");
                assertEquals(stats.observed(), c.getLong(COUNTERS + 8), at + "observed after the gated check on an ERM step");
                assertEquals(samSteps, c.getLong(COUNTERS + 16), at + "SAM steps after the gated check on an ERM step");
                assertEquals(skipped, c.getLong(COUNTERS + 24), at + "skipped steps after the gated check on an ERM step");
            }
            cuda.k.stepEnd.p(0, state + COUNTERS).launch(cuda.ctx.stream, 1, 1);
        }
        // The sequence exercised what it is for.
        assertTrue(skipped - secondPassFaults >= 9 && secondPassFaults >= 10, skipped + " skipped, " + secondPassFaults + " in pass 2");
        assertTrue(samSteps > 100 && samSteps < decisions - 100, samSteps + " SAM steps of " + decisions + " decisions");
    }

    @Test
    void decideTableTakesTheHostsVerdictsAndSkipsNonFiniteSteps() {
        int n = 400, len = 300;  // steps past the table are ERM steps
        double rho = 0.5;
        double[] s = sequence(n, 4);
        Policy.Decider verdicts = new Policy.Bernoulli(0.4).start(17);
        byte[] table = new byte[len];
        for (int t = 0; t < len; t++) table[t] = (byte) (verdicts.decide(t, n, Double.NaN).sam() ? 1 : 0);
        long tableAddr = alloc(len);
        cuda.uploadBytes(tableAddr, table);
        long state = alloc(CudaBackend.SCRATCH_BYTES - CudaBackend.S);
        long samSteps = 0, skipped = 0;
        for (int t = 0; t < n; t++) {
            write(state + S, s[t]);
            write(state + LOSS, loss(t));
            cuda.k.decideTable.p(0, tableAddr).p(1, len).p(2, state + S).p(3, state + LOSS).p(4, state + STATS).p(5, state + COUNTERS)
                    .d(6, rho).p(7, state + FLAG).p(8, state + SCALE).p(9, state + OUTCOME).p(10, 0).i(11, 0).launch(cuda.ctx.stream, 1, 1);
            ByteBuffer b = read(state, StepGraph.RECORD_BYTES);
            String at = "step " + t + ", s " + s[t] + ": ";
            // As decide_adaptive: a NaN/±Inf loss or s (or s < 0, which no sum of squares gives) skips the step.
            boolean skip = !Double.isFinite(loss(t)) || !Double.isFinite(s[t]) || s[t] < 0;
            boolean sam = !skip && t < len && table[t] != 0;
            samSteps += sam ? 1 : 0;
            skipped += skip ? 1 : 0;
            assertEquals(sam ? 1 : 0, b.getInt(FLAG), at + "SAM flag");
            assertEquals(skip ? 1 : 0, b.getInt(SKIP), at + "skip flag");
            assertTrue(Double.isNaN(b.getDouble(MU)) && Double.isNaN(b.getDouble(STATS + 24)) && Double.isNaN(b.getDouble(STATS + 32)),
                    at + "no statistic: mu, sigma, c are NaN");
            assertBits(0.0, b.getDouble(STATS), at + "mu state untouched");
            assertEquals(0, b.getLong(COUNTERS + 8), at + "nothing observed");
            assertEquals(samSteps, b.getLong(COUNTERS + 16), at + "SAM steps");
            assertEquals(skipped, b.getLong(COUNTERS + 24), at + "skipped steps");
            assertEquals((float) (rho / (Math.sqrt(s[t]) + 1e-12)), b.getFloat(SCALE), 0f, at + "perturbation scale");
            cuda.k.stepEnd.p(0, state + COUNTERS).launch(cuda.ctx.stream, 1, 1);
        }
        assertTrue(samSteps > 80 && skipped >= 6, samSteps + " SAM steps, " + skipped + " skipped");
    }

    @Test
    void stepBeginAndEndIndexTheLearningRateTable() {
        float[] lr = {0.5f, 0.25f, 0.125f, 1e-3f, 7f};
        CudaBuffer table = own(cuda.allocate(lr.length));
        cuda.upload(lr, 0, table, lr.length);
        long state = alloc(CudaBackend.SCRATCH_BYTES - CudaBackend.S);
        for (int t = 0; t < 9; t++) {
            cuda.k.stepBegin(table.address, lr.length, state + COUNTERS, state + off(CudaBackend.LR));
            ByteBuffer b = read(state, StepGraph.RECORD_BYTES);
            assertEquals(lr[Math.min(t, lr.length - 1)], b.getFloat(off(CudaBackend.LR)), 0f, "lr at step " + t + " (the last past the table)");
            assertEquals(t, b.getLong(COUNTERS));
            cuda.k.stepEnd.p(0, state + COUNTERS).launch(cuda.ctx.stream, 1, 1);
        }
        assertEquals(9, read(state, StepGraph.RECORD_BYTES).getLong(COUNTERS));
    }

    // ---------------------------------------------------------------------- one-thread kernels

    @Test
    void oneThreadKernelsEqualTheHostArithmeticBitForBit() {
        long a = alloc(64), out = alloc(64);
        double rho = 0.05;
        double[] values = {0, Double.MIN_VALUE, 1e-300, 1e-24, 1e-12, 0.25, 1, 2, 3, 1e10, 1e300, Math.PI, Math.E};
        SplittableRandom r = new SplittableRandom(8);
        double[] randoms = new double[40];
        for (int i = 0; i < randoms.length; i++) randoms[i] = Math.exp(20 * r.nextGaussian());
        for (double q : concat(values, randoms)) {
            // perturb_scale: the host's (float)(rho / (Math.sqrt(q) + EPS)), ASAM's scale from ‖T_w·g‖², and with ρ negated
            // Momentum-SAM's −ρ/(‖v‖ + EPS) from ‖v‖²; 0 at q = 0 (the zero guard: Momentum-SAM's first step, v = 0, does not
            // perturb, as the host's vv > 0 test; for ASAM q = 0 means a zero direction, so no weight moves either way).
            write(a, q);
            cuda.k.perturbScale(a, rho, out);
            assertEquals(q > 0 ? (float) (rho / (Math.sqrt(q) + 1e-12)) : 0f, read(out, 4).getFloat(0), 0f, "perturb_scale(" + q + ")");
            cuda.k.perturbScale(a, -0.3, out);
            assertEquals(q > 0 ? (float) (-0.3 / (Math.sqrt(q) + 1e-12)) : 0f, read(out, 4).getFloat(0), 0f, "perturb_scale(" + q + ", -0.3)");
            for (double dot : new double[] {q, -0.75 * q, 1.0, -3e-7}) {
                // looksam_coef: the host's axpby alpha −coef with coef = s > 0 ? dot / s : 0 (as a float; ±0 alike at s = 0).
                write(a, dot);
                write(a + 8, q);
                cuda.k.lookSamCoef(a, a + 8, out);
                float want = (float) -(q > 0 ? dot / q : 0);
                assertEquals(want, read(out, 4).getFloat(0), 0f, "looksam_coef(" + dot + ", " + q + ")");
            }
            for (double gv : new double[] {0, q, 1e-30, 5}) {
                // looksam_vscale: α·√s / ‖g_v‖ as SamOptimizer computes it, 0 without a g_v and on a SAM step.
                for (int sam = 0; sam < 2; sam++) {
                    write(a, q);
                    write(a + 8, gv);
                    writeInt(a + 16, sam);
                    cuda.k.lookSamVScale(a, a + 8, a + 16, 0.7, out);
                    float want = sam == 0 && gv > 0 ? (float) (0.7 * Math.sqrt(q) / Math.sqrt(gv)) : 0f;
                    assertEquals(want, read(out, 4).getFloat(0), 0f, "looksam_vscale(s " + q + ", gv " + gv + ", sam " + sam + ")");
                }
            }
        }
        // looksam_norm: the host's noise floor (nn <= NOISE_FLOOR² · ‖g_s‖² ? 0 : nn), the boundary included; a skip keeps the old norm.
        double floorSq = 1e-5 * 1e-5;
        for (double gs : concat(values, randoms)) {
            for (double nn : new double[] {0, floorSq * gs, Math.nextUp(floorSq * gs), 0.5 * floorSq * gs, 2 * floorSq * gs, gs, 1e-3 * gs}) {
                for (int skip = 0; skip < 2; skip++) {
                    write(a, nn);
                    write(a + 8, gs);
                    writeInt(a + 16, skip);
                    write(out, 123.0);
                    cuda.k.lookSamNorm(a, a + 8, floorSq, a + 16, out);
                    double want = skip == 1 ? 123.0 : nn <= floorSq * gs ? 0 : nn;
                    assertBits(want, read(out, 8).getDouble(0), "looksam_norm(" + nn + ", " + gs + ", skip " + skip + ")");
                }
            }
        }
    }

    /**
     * looksam_vscale with g_v's age, against SamOptimizer's rule run by hand: the age is 0 after a SAM step, grows by one
     * on each ERM step with a stored g_v (‖g_v‖² > 0) and then reuses it only while age ≤ max age (0: always); a skipped
     * step (pass 1 or pass 2) leaves the age alone; a noise-floor g_v (norm 0) is never reused and does not age.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1, 2, 4})
    void lookSamAgeExpiresAsTheHostsRule(int maxAge) {
        long a = alloc(64), out = alloc(8);
        SplittableRandom r = new SplittableRandom(30 + maxAge);
        long age = 0;
        int expired = 0, reused = 0;
        write(a + 8, 0.0);  // no g_v yet
        cuda.uploadBytes(a + 32, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0).array());
        for (int t = 0; t < 200; t++) {
            boolean sam = r.nextInt(9) == 0, skip = r.nextInt(12) == 0;
            double gv = sam && r.nextInt(4) == 0 ? 0.0 : 0.5 + r.nextDouble();  // a SAM step may store a noise-floor g_v
            double s = 0.1 + r.nextDouble();
            write(a, s);
            if (sam && !skip) write(a + 8, gv);  // a SAM step stores g_v's norm (looksam_norm) before the reuse weight
            double stored = read(a + 8, 8).getDouble(0);
            writeInt(a + 16, sam ? 1 : 0);
            writeInt(a + 20, skip ? 1 : 0);
            cuda.k.lookSamVScale(a, a + 8, a + 16, 0.7, out, a + 20, a + 32, maxAge);
            boolean fresh = true;
            if (!skip) {
                if (sam) {
                    age = 0;
                } else if (stored > 0) {
                    age++;
                    fresh = maxAge == 0 || age <= maxAge;
                }
            }
            float want = !sam && stored > 0 && fresh ? (float) (0.7 * Math.sqrt(s) / Math.sqrt(stored)) : 0f;
            String at = "max age " + maxAge + ", step " + t + (sam ? " SAM" : "") + (skip ? " skipped" : "");
            assertEquals(want, read(out, 4).getFloat(0), 0f, at + ": reuse weight");
            assertEquals(age, read(a + 32, 8).getLong(0), at + ": age");
            if (!sam && !skip && stored > 0) {
                if (fresh) reused++; else expired++;
            }
        }
        assertTrue(reused > 0, "g_v was reused");
        assertEquals(maxAge == 0, expired == 0, "g_v expired (" + expired + " steps) exactly when it has a max age");
    }

    @Test
    void meanLossIsTheMeanInDouble() {
        SplittableRandom r = new SplittableRandom(6);
        for (int n : new int[] {1, 7, 256, 1000}) {
            float[] l = new float[n];
            for (int i = 0; i < n; i++) l[i] = (float) (3 * r.nextDouble());
            for (float special : new float[] {0f, Float.NaN, Float.POSITIVE_INFINITY}) {
                float[] v = l.clone();
                if (special != 0f) v[n / 2] = special;
                CudaBuffer b = own(cuda.allocate(n));
                cuda.upload(v, 0, b, n);
                long out = alloc(8);
                cuda.k.meanLoss(b.address, n, out);
                double sum = 0;
                for (float f : v) sum += f;
                double want = sum / n, got = read(out, 8).getDouble(0);
                // In index order against the stand-in; a GPU adds per thread and then across the block.
                if (CudaTestSupport.realGpu() && Double.isFinite(want)) assertEquals(want, got, 1e-15 * want, "mean_loss n=" + n);
                else assertBits(want, got, "mean_loss n=" + n + " with " + special);
            }
        }
    }

    // ----------------------------------------------------------------------- streaming kernels

    @Test
    void reductionsFlagExactlyTheNonFiniteSums() {
        long out = alloc(16), partials = alloc(8L * CudaKernels.MAX_PARTIALS);
        for (int n : new int[] {1, 1021, 278011}) {
            for (float bad : new float[] {1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE}) {
                float[] v = new float[n];
                SplittableRandom r = new SplittableRandom(n);
                for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
                v[n - 1] = bad;
                CudaBuffer x = own(cuda.allocate(n));
                cuda.upload(v, 0, x, n);
                writeInt(out + 8, 7);
                cuda.k.sumOfSquares(x.address, n, partials, out, out + 8);
                ByteBuffer b = read(out, 12);
                Buffer h = ref.allocate(n);
                ref.upload(v, 0, h, n);
                double want = ref.sumOfSquares(h, n), got = b.getDouble(0);
                // MAX_VALUE² is finite in double: a finite sum of any floats' squares never overflows.
                assertEquals(Double.isFinite(want) ? 0 : 1, b.getInt(8), "non-finite flag, n=" + n + ", last element " + bad);
                if (Double.isFinite(want)) assertEquals(want, got, 1e-10 * want, "sum of squares, n=" + n);
                else assertTrue(Double.isNaN(want) ? Double.isNaN(got) : got == want, "non-finite sum " + got + " vs " + want);
            }
        }
    }

    @Test
    void streamingKernelsWithDeviceScalarsMatchTheReference() {
        int n = 1021;
        SplittableRandom r = new SplittableRandom(12);
        float[] w = rnd(r, n, 0.1), g = rnd(r, n, 0.01), ws = rnd(r, n, 1), gs = rnd(r, n, 1), m = rnd(r, n, 0.01), v = rnd(r, n, 0.01);
        long scalars = alloc(64);  // [0] scale, [4] lr, [8] v_scale, [12] restore flag, [16] skip (floats / unsigned ints)
        // Every call writes a bf16 shadow of w as well (what a bf16 run's layers read): after each one it must be
        // bf16(w) bit for bit, and w itself must be what the fp32 reference computes.
        CudaBuffer shadow = own(cuda.allocateBf16(n));  // 16-bit, as a bf16 run's layers read it
        long sh = shadow.address;

        // sam_perturb / asam_perturb with the scale read from device memory (where decide or perturb_scale put it)
        writeFloat(scalars, 0.37f);
        Pair pw = pair(w), pg = pair(g), pws = pair(ws), pgs = pair(gs);
        cuda.k.samPerturb(pw.gpu.address, pg.gpu.address, pws.gpu.address, pgs.gpu.address, n, 99f, scalars, sh);
        ref.samPerturb(pw.ref, pg.ref, pws.ref, pgs.ref, n, 0.37f);
        close("sam_perturb w", pw, n, 1e-6);
        shadowIsBf16("sam_perturb", pw, shadow, n);
        close("sam_perturb w_saved", pws, n, 0);
        close("sam_perturb g_saved", pgs, n, 0);
        writeFloat(scalars, 2.5f);
        cuda.k.asamPerturb(pw.gpu.address, pg.gpu.address, pws.gpu.address, pgs.gpu.address, n, 99f, scalars, 0.01f, sh);
        ref.asamPerturb(pw.ref, pg.ref, pws.ref, pgs.ref, n, 2.5f, 0.01f);
        close("asam_perturb w", pw, n, 1e-6);
        shadowIsBf16("asam_perturb", pw, shadow, n);
        close("asam_perturb w_saved", pws, n, 1e-7);

        // sgd_step as the step graph launches it: lr and v_scale from device memory, the restore flag, the skip flag
        Pair pm = pair(m), pv = pair(v);
        writeFloat(scalars + 4, 0.1f);
        writeFloat(scalars + 8, 0.7f);
        for (int restore = 0; restore < 2; restore++) {
            writeInt(scalars + 12, restore);
            writeInt(scalars + 16, 0);
            cuda.k.sgdStep(pw.gpu.address, pws.gpu.address, scalars + 12, pg.gpu.address, 0, 0f, 0, pm.gpu.address, n, 9f, scalars + 4,
                    0.9f, 5e-4f, false, scalars + 16, sh);
            if (restore == 1) ref.restoreSgdUpdate(pw.ref, pws.ref, pg.ref, pm.ref, n, 0.1f, 0.9f, 5e-4f, false);
            else ref.sgdUpdate(pw.ref, pg.ref, pm.ref, n, 0.1f, 0.9f, 5e-4f, false);
            close("sgd_step w, restore flag " + restore, pw, n, 1e-6);
            shadowIsBf16("sgd_step, restore flag " + restore, pw, shadow, n);
            close("sgd_step m, restore flag " + restore, pm, n, 1e-6);
        }
        writeInt(scalars + 12, 0);
        cuda.k.sgdStep(pw.gpu.address, pws.gpu.address, scalars + 12, pg.gpu.address, pv.gpu.address, 9f, scalars + 8, pm.gpu.address, n,
                9f, scalars + 4, 0.9f, 5e-4f, true, 0, sh);
        ref.sgdUpdateWithDirection(pw.ref, pg.ref, pv.ref, 0.7f, pm.ref, n, 0.1f, 0.9f, 5e-4f, true);
        close("sgd_step w with LookSAM's direction (Nesterov)", pw, n, 1e-6);
        shadowIsBf16("sgd_step with LookSAM's direction", pw, shadow, n);
        close("sgd_step m with LookSAM's direction (Nesterov)", pm, n, 1e-6);

        // A skipped step: nothing changes on the ERM path; on the SAM path the saved weights come back, bit for bit.
        writeInt(scalars + 16, 1);
        float[] w0 = download(pw.gpu, n), m0 = download(pm.gpu, n);
        cuda.k.sgdStep(pw.gpu.address, pws.gpu.address, scalars + 12, pg.gpu.address, 0, 0f, 0, pm.gpu.address, n, 9f, scalars + 4,
                0.9f, 5e-4f, false, scalars + 16, sh);
        assertTrue(Arrays.equals(w0, download(pw.gpu, n)) && Arrays.equals(m0, download(pm.gpu, n)), "skipped ERM update changed something");
        writeInt(scalars + 12, 1);
        cuda.k.sgdStep(pw.gpu.address, pws.gpu.address, scalars + 12, pg.gpu.address, pv.gpu.address, 0f, scalars + 8, pm.gpu.address, n,
                9f, scalars + 4, 0.9f, 5e-4f, false, scalars + 16, sh);
        assertTrue(Arrays.equals(download(pws.gpu, n), download(pw.gpu, n)), "a skipped SAM update restores the saved weights");
        assertTrue(Arrays.equals(m0, download(pm.gpu, n)), "a skipped SAM update leaves the momentum");
        shadowIsBf16("a skipped SAM update", pw, shadow, n);

        // axpby with alpha from device memory (LookSAM's coefficient), and its skip
        writeFloat(scalars, -0.3f);
        writeInt(scalars + 16, 0);
        Pair out = pair(rnd(r, n, 1));
        cuda.k.axpby(99f, scalars, pg.gpu.address, 1.5f, pv.gpu.address, out.gpu.address, n, scalars + 16);
        ref.axpby(-0.3f, pg.ref, 1.5f, pv.ref, out.ref, n);
        close("axpby with a device alpha", out, n, 1e-6);
        float[] o0 = download(out.gpu, n);
        writeInt(scalars + 16, 1);
        cuda.k.axpby(99f, scalars, pg.gpu.address, 1.5f, pv.gpu.address, out.gpu.address, n, scalars + 16);
        assertTrue(Arrays.equals(o0, download(out.gpu, n)), "axpby with the skip set wrote something");
    }

    // ------------------------------------------------------------------------------- helpers

    private record Pair(CudaBuffer gpu, Buffer ref) {}

    private Pair pair(float[] v) {
        CudaBuffer g = own(cuda.allocate(v.length));
        cuda.upload(v, 0, g, v.length);
        Buffer h = ref.allocate(v.length);
        ref.upload(v, 0, h, v.length);
        return new Pair(g, h);
    }

    private static void close(String what, Pair p, int n, double tol) {
        float[] got = download(p.gpu, n);
        double[] want = ref.read(p.ref);
        for (int i = 0; i < n; i++) {
            if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
                fail(what + ": element " + i + " is " + got[i] + ", reference " + want[i]);
            }
        }
    }

    private static float[] rnd(SplittableRandom r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return v;
    }

    /** The shadow holds bf16(w) of the GPU's w, bit for bit (round to nearest even, as Precision.BF16). */
    private static void shadowIsBf16(String what, Pair w, CudaBuffer shadow, int n) {
        float[] wv = download(w.gpu, n), sv = download(shadow, n);
        for (int i = 0; i < n; i++) {
            float want = dev.sam4j.backend.Precision.BF16.round(wv[i]);
            if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(sv[i])) {
                fail(what + ": shadow[" + i + "] = " + sv[i] + ", bf16(w) = " + want + " (w = " + wv[i] + ")");
            }
        }
    }

    private static float[] download(CudaBuffer b, int n) {
        float[] out = new float[n];
        cuda.download(b, out, 0, n);
        return out;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private CudaBuffer own(CudaBuffer b) {
        owned.add(b);
        return b;
    }

    /** A zeroed device block of at least {@code bytes}; its address. */
    private long alloc(long bytes) { return own(cuda.allocate((bytes + 3) / 4)).address; }

    private static ByteBuffer read(long address, int bytes) {
        return ByteBuffer.wrap(cuda.readBytes(address, bytes)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void write(long address, double v) {
        cuda.uploadBytes(address, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(v).array());
    }

    private static void writeFloat(long address, float v) {
        cuda.uploadBytes(address, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array());
    }

    private static void writeInt(long address, int v) {
        cuda.uploadBytes(address, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    /** Equal as doubles bit for bit (every NaN alike). */
    private static void assertBits(double want, double got, String what) {
        assertEquals(Double.doubleToLongBits(want), Double.doubleToLongBits(got), what + ": " + got + " vs host " + want);
    }
}
