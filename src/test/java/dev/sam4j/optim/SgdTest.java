package dev.sam4j.optim;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SgdTest {
    /** Two steps by hand: d = g + wd·w; m = μ·m + d; w −= lr·(nesterov ? d + μ·m : m). */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void matchesThePyTorchRuleByHand(boolean nesterov) {
        for (Backend b : new Backend[] {new ReferenceBackend(), new CpuBackend(1)}) {
            try (b) {
                Buffer w = b.allocate(2), g = b.allocate(2);
                b.write(new double[] {1.0, -2.0}, w);
                b.write(new double[] {0.5, 0.25}, g);
                Sgd sgd = new Sgd(b, 2, 0.9, 0.1, nesterov);
                double[] ew = {1.0, -2.0}, em = {0, 0}, eg = {0.5, 0.25};
                for (int step = 0; step < 2; step++) {
                    sgd.step(w, g, 0.1);
                    for (int i = 0; i < 2; i++) {
                        double d = eg[i] + 0.1 * ew[i];
                        em[i] = 0.9 * em[i] + d;
                        ew[i] -= 0.1 * (nesterov ? d + 0.9 * em[i] : em[i]);
                    }
                }
                double[] got = b.read(w), gotM = b.read(sgd.momentumArena());
                for (int i = 0; i < 2; i++) {
                    assertEquals(ew[i], got[i], 1e-6, b.name() + " w[" + i + "]");
                    assertEquals(em[i], gotM[i], 1e-6, b.name() + " m[" + i + "]");
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void rejectsNonsense() {
        try (Backend b = new ReferenceBackend()) {
            assertThrows(IllegalArgumentException.class, () -> new Sgd(b, 1, 1.0, 0, false));
            assertThrows(IllegalArgumentException.class, () -> new Sgd(b, 1, 0.9, -1, false));
            assertThrows(IllegalArgumentException.class, () -> new Sgd(b, 1, 0.0, 0, true));
        }
    }
}
