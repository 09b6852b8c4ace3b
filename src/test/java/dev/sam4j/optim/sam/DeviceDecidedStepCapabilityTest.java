package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.tensor.Shape;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link DeviceDecidedStep} reaches the device step only through the backend floor's capability
 * ({@link Backend#deviceStepGraphs()}): a backend without it is refused in one line naming it, and a backend that
 * offers it (here the reference backend behind a proxy whose builder records the {@link DeviceStepGraph.Spec})
 * gets the spec of the method and the model, and every call of the step. No CUDA type is involved.
 */
class DeviceDecidedStepCapabilityTest {
    static final Shape IN = Shape.of(1, 4, 4);
    static final int B = 3, CLASSES = 5;
    static final long STEPS = 7, SEED = 11;

    /** A graph that runs nothing and counts what it is asked. */
    static final class FakeGraph implements DeviceStepGraph {
        final Spec spec;
        int launches, hostLaunches, closes;
        CarriedState imported;
        FakeGraph(Spec spec) { this.spec = spec; }
        @Override public void launch() { launches++; }
        @Override public boolean launchHostDecided() { hostLaunches++; return true; }
        @Override public void synchronize() {}
        @Override public State state() { return new State(launches, 0, 1, 2, 3, 4, false, 5, 6, 7, false, 0); }
        @Override public void recordStateTo(Buffer history, int slot) {}
        @Override public List<State> readHistory(Buffer history, int from, int count) { return List.of(); }
        @Override public CarriedState exportState() { return new CarriedState(3, 2, 1, 0, 0.5, 0.25, 0, 0); }
        @Override public void importState(CarriedState state) { imported = state; }
        @Override public void close() { closes++; }
    }

    /** The reference backend, offering the device step through {@code graphs} (every other call goes to it). */
    static Backend offering(Backend real, List<FakeGraph> graphs) {
        DeviceStepGraph.Builder builder = spec -> {
            FakeGraph g = new FakeGraph(spec);
            graphs.add(g);
            return g;
        };
        InvocationHandler h = (proxy, method, args) -> {
            if (method.getName().equals("deviceStepGraphs")) return Optional.of(builder);
            // The floor's default derives the answer from deviceStepGraphs: take it, not the real backend's.
            if (method.getName().equals("runsDeviceDecidedSteps")) return InvocationHandler.invokeDefault(proxy, method, args);
            try {
                return method.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    static DeviceDecidedStep step(Backend backend, Model model, Method method, LrSchedule schedule) {
        Buffer x = backend.allocate((long) B * IN.size()), y = backend.allocate(B);
        return new DeviceDecidedStep(model, x, y, B, method, schedule, STEPS, 0.9, 5e-4, false, SEED);
    }

    @Test
    void aBackendWithoutTheCapabilityIsRefusedByName() {
        try (Backend be = new ReferenceBackend(); Model model = new Model(Models.create("mlp", IN, CLASSES), IN, CLASSES, be, B, 1)) {
            assertFalse(be.runsDeviceDecidedSteps());
            assertTrue(be.deviceStepGraphs().isEmpty());
            var e = assertThrows(IllegalArgumentException.class,
                    () -> step(be, model, Method.of("sam", Method.Hyper.defaults()), new LrSchedule.Constant(0.1, 0)));
            assertTrue(e.getMessage().contains("not " + be.name()), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"erm", "sam", "asam", "sssam", "looksam", "aesam", "aelooksam", "msam"})
    void theSpecIsTheMethodOnTheModel(String name) {
        List<FakeGraph> graphs = new ArrayList<>();
        try (Backend real = new ReferenceBackend()) {
            Backend be = offering(real, graphs);
            assertTrue(be.runsDeviceDecidedSteps());
            Method method = Method.of(name, Method.Hyper.defaults());
            LrSchedule schedule = new LrSchedule.Cosine(0.1, 2);
            try (Model model = new Model(Models.create("mlp", IN, CLASSES), IN, CLASSES, be, B, 1)) {
                DeviceDecidedStep step = step(be, model, method, schedule);
                assertEquals(1, graphs.size());
                FakeGraph g = graphs.get(0);
                DeviceStepGraph.Spec s = g.spec;
                assertSame(model.params(), s.params());
                assertSame(model.grads(), s.grads());
                assertSame(step.momentum(), s.momentum());
                assertEquals(model.paramCount(), s.n());
                assertEquals(B, s.batch());
                assertEquals(STEPS, s.totalSteps());
                float[] lr = new float[(int) STEPS];
                for (int t = 0; t < lr.length; t++) lr[t] = (float) schedule.lr(t, STEPS);
                assertArrayEquals(lr, s.lrTable());
                assertEquals(0.9f, s.momentumCoefficient());
                assertEquals(5e-4f, s.weightDecay());
                assertEquals(!(method.policy() instanceof Policy.Never), s.sam());
                assertEquals(method.perturbation().rho(), s.rho());
                // Exactly one of the adaptive parameters and the host's verdicts.
                assertTrue((s.adaptive() == null) != (s.verdicts() == null));
                if (method.policy() instanceof Policy.Adaptive a) {
                    assertArrayEquals(new double[] {a.delta(), a.lambda1(), a.lambda2(), a.warmup()}, s.adaptive());
                } else {
                    assertEquals(STEPS, s.verdicts().length);
                    int samVerdicts = 0;
                    for (byte v : s.verdicts()) {
                        assertTrue(v == 0 || v == 1, "verdict " + v);
                        samVerdicts += v;
                    }
                    if (method.policy() instanceof Policy.Always) assertEquals(STEPS, samVerdicts);
                    if (method.policy() instanceof Policy.Never) assertEquals(0, samVerdicts);
                    if (method.policy() instanceof Policy.Periodic) assertTrue(samVerdicts > 0 && samVerdicts < STEPS, "periodic: " + samVerdicts);
                }
                assertEquals(method.perturbation() instanceof Perturbation.Adaptive, !Double.isNaN(s.asamEta()));
                assertEquals(method.perturbation() instanceof Perturbation.Momentum, s.momentumSam());
                assertEquals(method.lookSam(), s.lookSamDirection() != null);
                assertEquals(method.lookSam(), !Double.isNaN(s.lookSamAlpha()));
                if (method.lookSam()) assertEquals(method.lookSamMaxAge(), s.lookSamMaxAge());
                assertNotNull(s.pass1());
                assertNotNull(s.pass2());

                // The step's calls reach the graph, and only it.
                step.step();
                step.step();
                assertTrue(step.stepHostDecided());
                assertEquals(2, g.launches);
                assertEquals(1, g.hostLaunches);
                assertEquals(2, step.state().step());
                DeviceStepGraph.CarriedState carried = step.exportState();
                step.importState(carried);
                assertSame(carried, g.imported);
                step.close();
                assertEquals(1, g.closes);
            }
        }
    }

    @Test
    void esamStaysOnTheHostPath() {
        List<FakeGraph> graphs = new ArrayList<>();
        try (Backend real = new ReferenceBackend()) {
            Backend be = offering(real, graphs);
            try (Model model = new Model(Models.create("mlp", IN, CLASSES), IN, CLASSES, be, B, 1)) {
                assertThrows(UnsupportedOperationException.class,
                        () -> step(be, model, Method.of("esam", Method.Hyper.defaults()), new LrSchedule.Constant(0.1, 0)));
                assertNull(DeviceDecidedStep.unsupported(Method.of("sam", Method.Hyper.defaults())));
                assertTrue(graphs.isEmpty());
            }
        }
    }
}
