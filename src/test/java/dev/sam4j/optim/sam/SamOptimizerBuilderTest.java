package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.optim.Sgd;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * {@link SamOptimizer#builder}: wires the model's own arenas (the same steps, bit for bit, as the constructor
 * given them in the right order, and not as with them swapped), and rejects bad values naming the builder
 * method; the constructor rejects what it can check.
 */
class SamOptimizerBuilderTest {

    private static float[] train(Factory make) {
        try (SamStepOnModelTest.Rig r = new SamStepOnModelTest.Rig(4)) {
            SamOptimizer opt = make.create(r);
            for (int t = 0; t < 4; t++) {
                r.batch(t);
                opt.step(r, t, 4, 0.05);
            }
            return r.model.downloadParams();
        }
    }

    /** How a test builds its optimizer on a rig. */
    interface Factory { SamOptimizer create(SamStepOnModelTest.Rig r); }

    @Test
    void builderTrainsLikeTheConstructorWithTheModelsArenas() {
        Method.Hyper h = Method.Hyper.defaults().toBuilder().rho(0.1).build();
        float[] viaConstructor = train(r -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.params(), r.model.grads(),
                new Sgd(r.backend, r.model.paramCount(), 0.8, 1e-3, true), Method.of("sssam", h), 17));
        float[] viaBuilder = train(r -> SamOptimizer.builder(r.model).method("sssam").rho(0.1).momentum(0.8).weightDecay(1e-3)
                .nesterov(true).seed(17).build());
        assertArrayEquals(viaConstructor, viaBuilder);
        float[] otherSeed = train(r -> SamOptimizer.builder(r.model).method("sssam").rho(0.1).momentum(0.8).weightDecay(1e-3)
                .nesterov(true).seed(18).build());
        assertFalse(java.util.Arrays.equals(viaBuilder, otherSeed), "the seed reaches the Bernoulli policy");
        // What the builder rules out: the same constructor call with the arenas swapped trains something else.
        float[] swapped = train(r -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.grads(), r.model.params(),
                new Sgd(r.backend, r.model.paramCount(), 0.8, 1e-3, true), Method.of("sssam", h), 17));
        assertFalse(java.util.Arrays.equals(viaBuilder, swapped));
    }

    private static void rejects(String message, Consumer<SamOptimizer.Builder> configure) {
        try (SamStepOnModelTest.Rig r = new SamStepOnModelTest.Rig(1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                SamOptimizer.Builder b = SamOptimizer.builder(r.model);
                configure.accept(b);
                b.build();
            });
            assertEquals(message, e.getMessage());
        }
    }

    @Test
    void badValuesNameTheBuilderMethod() {
        rejects("SamOptimizer.Builder.rho(0.0): must be > 0 and finite", b -> b.method("sam").rho(0));
        rejects("SamOptimizer.Builder.rho(NaN): must be > 0 and finite", b -> b.method("sam").rho(Double.NaN));
        rejects("SamOptimizer.Builder.momentum(1.0): must be in [0, 1)", b -> b.method("sam").momentum(1));
        rejects("SamOptimizer.Builder.weightDecay(-1.0E-4): must be >= 0 and finite", b -> b.method("sam").weightDecay(-1e-4));
        rejects("SamOptimizer.Builder.method(\"adam\"): unknown method; valid: " + String.join(", ", Method.NAMES),
                b -> b.method("adam"));
        rejects("SamOptimizer.Builder.build(): no method; call method(\"sam\") (or another of " + String.join(", ", Method.NAMES) + ")",
                b -> b.momentum(0.5));
        rejects("SamOptimizer.Builder.nesterov(true): needs momentum(m) with m > 0", b -> b.method("sam").momentum(0).nesterov(true));
        rejects("SamOptimizer.Builder.build(): hyper(...) and rho(...) apply to method(String) only, not to a method(Method) already built",
                b -> b.method(Method.of("sam", Method.Hyper.defaults())).rho(0.2));
        assertEquals("SamOptimizer.builder(model): model is null",
                assertThrows(IllegalArgumentException.class, () -> SamOptimizer.builder(null)).getMessage());
    }

    @Test
    void constructorRejectsWhatItCanCheck() {
        try (SamStepOnModelTest.Rig r = new SamStepOnModelTest.Rig(1)) {
            long n = r.model.paramCount();
            Method m = Method.of("sam", Method.Hyper.defaults());
            Buffer shorter = r.backend.allocate(n - 1);
            assertEquals("SamOptimizer: params and grads are the same buffer", assertThrows(IllegalArgumentException.class,
                    () -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.params(), r.model.params(), r.sgd, m, 1)).getMessage());
            assertEquals("SamOptimizer: grads has " + (n - 1) + " floats, the parameter layout " + n, assertThrows(IllegalArgumentException.class,
                    () -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.params(), shorter, r.sgd, m, 1)).getMessage());
            Sgd small = new Sgd(r.backend, n - 1, 0.9, 0, false);
            assertEquals("SamOptimizer: sgd's momentum arena has " + (n - 1) + " floats, the parameter layout " + n,
                    assertThrows(IllegalArgumentException.class,
                            () -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.params(), r.model.grads(), small, m, 1)).getMessage());
            assertEquals("SamOptimizer: method is null", assertThrows(IllegalArgumentException.class,
                    () -> new SamOptimizer(r.backend, r.model.paramLayout(), r.model.params(), r.model.grads(), r.sgd, null, 1)).getMessage());
        }
    }
}
