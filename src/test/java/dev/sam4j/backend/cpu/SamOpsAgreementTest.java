package dev.sam4j.backend.cpu;

import static dev.sam4j.backend.cpu.BackendHarness.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The fused SAM-family passes of the fast backend against the double-precision reference, over awkward sizes. */
class SamOpsAgreementTest {

    @org.junit.jupiter.api.BeforeAll
    static void widthAvailable() {
        BackendHarness.assumeWidthAvailable();
    }


    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 1021, 278011})
    void fusedPassesMatchTheReference(int n) {
        float[] w = uniform(n, 1), g = uniform(n, 2, -0.5, 0.5), v = uniform(n, 3), m = uniform(n, 4, -0.1, 0.1);
        try (Backend ref = new ReferenceBackend(); CpuBackend cpu = new CpuBackend(2)) {
            // reductions (double accumulation: near-exact)
            assertEquals(ref.dot(put(ref, w), put(ref, g), n), cpu.dot(put(cpu, w), put(cpu, g), n), 1e-9 * n);
            assertEquals(ref.asamNormSquared(put(ref, w), put(ref, g), n, 0.01),
                    cpu.asamNormSquared(put(cpu, w), put(cpu, g), n, 0.01), 1e-6 * (1 + n * 1e-3));
            // axpby
            Buffer ro = ref.allocate(n), co = cpu.allocate(n);
            ref.axpby(-0.37, put(ref, g), 1.0, put(ref, v), ro, n);
            cpu.axpby(-0.37, put(cpu, g), 1.0, put(cpu, v), co, n);
            assertClose("axpby", ref, ro, cpu, co, 1e-6);
            // SAM and ASAM perturbations: saved copies exact, perturbed weights close
            for (boolean adaptive : new boolean[] {false, true}) {
                Buffer rw = put(ref, w), rg = put(ref, g), rws = ref.allocate(n), rgs = ref.allocate(n);
                Buffer cw = put(cpu, w), cg = put(cpu, g), cws = cpu.allocate(n), cgs = cpu.allocate(n);
                if (adaptive) {
                    ref.asamPerturb(rw, rg, rws, rgs, n, 0.3, 0.01);
                    cpu.asamPerturb(cw, cg, cws, cgs, n, 0.3, 0.01);
                } else {
                    ref.samPerturb(rw, rg, rws, rgs, n, 0.3);
                    cpu.samPerturb(cw, cg, cws, cgs, n, 0.3);
                }
                assertBitEqual("saved w", w, get(cpu, cws));
                assertBitEqual("saved g", g, get(cpu, cgs));
                assertClose(adaptive ? "asam w'" : "sam w'", ref, rw, cpu, cw, 1e-6);
            }
            // LookSAM's update with a direction
            Buffer rw = put(ref, w), rm = put(ref, m), cw = put(cpu, w), cm = put(cpu, m);
            ref.sgdUpdateWithDirection(rw, put(ref, g), put(ref, v), 0.7, rm, n, 0.1f, 0.9f, 5e-4f, true);
            cpu.sgdUpdateWithDirection(cw, put(cpu, g), put(cpu, v), 0.7, cm, n, 0.1f, 0.9f, 5e-4f, true);
            assertClose("w after reuse update", ref, rw, cpu, cw, 1e-6);
            assertClose("m after reuse update", ref, rm, cpu, cm, 1e-6);
        }
    }

    /** Restore + update in one pass is bit-identical to a copy followed by the plain update, at any thread count. */
    @ParameterizedTest
    @ValueSource(ints = {1, 7, 1021, 278011})
    void restoreAndUpdateIsBitIdenticalToCopyThenUpdate(int n) {
        float[] saved = uniform(n, 5), perturbed = uniform(n, 6), g = uniform(n, 7), m = uniform(n, 8, -0.1, 0.1);
        for (int threads : new int[] {1, 2}) {
            for (boolean nesterov : new boolean[] {false, true}) {
                try (CpuBackend cpu = new CpuBackend(threads)) {
                    Buffer w1 = put(cpu, perturbed), m1 = put(cpu, m);
                    cpu.restoreSgdUpdate(w1, put(cpu, saved), put(cpu, g), m1, n, 0.05f, 0.9f, 5e-4f, nesterov);
                    Buffer w2 = put(cpu, saved), m2 = put(cpu, m);
                    cpu.sgdUpdate(w2, put(cpu, g), m2, n, 0.05f, 0.9f, 5e-4f, nesterov);
                    assertBitEqual("w", get(cpu, w2), get(cpu, w1));
                    assertBitEqual("m", get(cpu, m2), get(cpu, m1));
                    // and a zero direction leaves the plain update unchanged, bit for bit
                    Buffer w3 = put(cpu, saved), m3 = put(cpu, m);
                    cpu.sgdUpdateWithDirection(w3, put(cpu, g), cpu.allocate(n), 0.0, m3, n, 0.05f, 0.9f, 5e-4f, nesterov);
                    assertBitEqual("w with zero direction", get(cpu, w2), get(cpu, w3));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1021, 278011})
    void reductionsDoNotDependOnTheThreadCount(int n) {
        float[] a = uniform(n, 9), b = uniform(n, 10);
        try (CpuBackend one = new CpuBackend(1); CpuBackend two = new CpuBackend(2)) {
            assertEquals(one.dot(put(one, a), put(one, b), n), two.dot(put(two, a), put(two, b), n), 0.0);
            assertEquals(one.asamNormSquared(put(one, a), put(one, b), n, 0.01),
                    two.asamNormSquared(put(two, a), put(two, b), n, 0.01), 0.0);
        }
    }
}
