package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SharpnessStatsTest {

    @Test
    void followsTheEmaFormulasExactly() {
        SplittableRandom r = new SplittableRandom(7);
        double delta = 0.8;
        SharpnessStats st = new SharpnessStats(delta);
        Policy.Decider d = new Policy.Adaptive(delta, -2, 3, 0).start(0);
        double mu = 0, var = 0;
        long total = 500;
        for (int t = 0; t < total; t++) {
            double s = Math.exp(r.nextGaussian());
            if (t == 0) { mu = s; var = 0; }
            else { mu = delta * mu + (1 - delta) * s; var = delta * var + (1 - delta) * (s - mu) * (s - mu); }
            st.update(s);
            assertEquals(mu, st.mean(), 0.0, "mu at " + t);
            assertEquals(var, st.variance(), 0.0, "var at " + t);
            double c = -2.0 * t / total + 3.0 * (1 - t / (double) total);
            Decision dec = d.decide(t, total, s);
            assertEquals(mu, dec.mu(), 0.0);
            assertEquals(Math.sqrt(var), dec.sigma(), 0.0);
            assertEquals(c, dec.c(), 1e-15);
            assertEquals(s >= mu + c * Math.sqrt(var), dec.sam(), "decision at " + t);
        }
    }

    static double phi(double x) {
        // Φ via erf's Abramowitz–Stegun 7.1.26 approximation (|error| < 1.5e-7), enough for a tolerance of 1e-2.
        double z = Math.abs(x) / Math.sqrt(2), t = 1 / (1 + 0.3275911 * z);
        double erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
        return 0.5 * (1 + Math.signum(x) * erf);
    }

    /**
     * On i.i.d. normal s_t with a constant c, the SAM fraction approaches 1 − Φ(c). The estimate of σ from
     * an EMA (about 1/(1−δ) = 10 effective samples) is itself noisy, which biases the fraction by up to
     * about 0.01 towards 1/2 (measured by simulation); the tolerance is that bias plus 4 standard errors.
     */
    @ParameterizedTest
    @ValueSource(doubles = {-1.0, -0.5, 0.0, 0.5, 1.0})
    void samFractionFollowsTheNormalTail(double c) {
        SplittableRandom r = new SplittableRandom(11);
        Policy.Decider d = new Policy.Adaptive(0.9, c, c, 0).start(0);
        int n = 60_000, burn = 100, sam = 0;
        for (int t = 0; t < n; t++) {
            double s = 10 + 2 * r.nextGaussian();
            boolean took = d.decide(t, n, s).sam();
            if (t >= burn && took) sam++;
        }
        double frac = sam / (double) (n - burn), expected = 1 - phi(c);
        double se = Math.sqrt(expected * (1 - expected) / (n - burn));
        assertEquals(expected, frac, 0.012 + 4 * se, "c = " + c);
    }

    @Test
    void rejectsInvalidHyperparameters() {
        assertThrows(IllegalArgumentException.class, () -> new SharpnessStats(0));
        assertThrows(IllegalArgumentException.class, () -> new SharpnessStats(1));
        assertThrows(IllegalArgumentException.class, () -> new Policy.Adaptive(1.5, -1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Policy.Adaptive(0.9, Double.NaN, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Policy.Periodic(0));
        assertThrows(IllegalArgumentException.class, () -> new Policy.Bernoulli(1.2));
        assertThrows(IllegalArgumentException.class, () -> new Policy.Bernoulli(-0.1));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation.Plain(0));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation.Plain(-0.05));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation.Adaptive(0.5, -1));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation.Esam(0.05, 0, 0.5, true, true));
        assertThrows(IllegalArgumentException.class, () -> new Perturbation.Esam(0.05, 0.5, 1.5, true, true));
        var e = assertThrows(IllegalArgumentException.class, () -> new SharpnessStats(2));
        assertTrue(e.getMessage().contains("--ae-delta"));
        var u = assertThrows(IllegalArgumentException.class, () -> Method.of("adam", Method.Hyper.defaults()));
        assertTrue(u.getMessage().contains("adam") && u.getMessage().contains("aelooksam"));
    }

    @Test
    void periodicAndBernoulliFractions() {
        Policy.Decider p = new Policy.Periodic(5).start(0);
        int sam = 0;
        for (int t = 0; t < 1000; t++) if (p.decide(t, 1000, 1).sam()) sam++;
        assertEquals(200, sam);
        Policy.Decider b = new Policy.Bernoulli(0.3).start(5);
        sam = 0;
        int n = 20_000;
        for (int t = 0; t < n; t++) if (b.decide(t, n, 1).sam()) sam++;
        assertEquals(0.3, sam / (double) n, 4 * Math.sqrt(0.3 * 0.7 / n));
    }
}
