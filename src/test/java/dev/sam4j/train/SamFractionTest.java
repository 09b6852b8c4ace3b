package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.optim.sam.Method;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SAM fractions of each policy in real (short) Fashion-MNIST runs, and the per-step records. */
class SamFractionTest {

    static RunSummary run(String optimizer, Method.Hyper h, long steps, List<StepRecord> out) {
        TrainConfig cfg = TrainConfig.builder().data("fashion-mnist-sample").model("mlp").device("cpu").threads(2)
                .optimizer(optimizer).hyper(h).epochs(100).maxSteps(steps).build();
        try (Trainer t = new Trainer(cfg)) {
            if (out != null) t.addListener(new TrainListener() { @Override public void onStep(StepRecord s) { out.add(s); } });
            return t.run();
        }
    }

    static Method.Hyper with(int k, double p) {
        return Method.Hyper.defaults().toBuilder().lookSamK(k).sssamP(p).build();
    }

    @Test
    void fractionsOfTheFixedPolicies() {
        assertEquals(1.0, run("sam", Method.Hyper.defaults(), 12, null).samFraction());
        assertEquals(0.0, run("erm", Method.Hyper.defaults(), 12, null).samFraction());
        assertEquals(0.25, run("looksam", with(4, 0.5), 40, null).samFraction(), 1e-12, "1/k");
        int n = 200;
        RunSummary ss = run("sssam", with(5, 0.3), n, null);
        assertEquals(0.3, ss.samFraction(), 4 * Math.sqrt(0.3 * 0.7 / n), "SS-SAM p within 4 standard errors");
    }

    @Test
    void aeSamWithDefaultsTakesSamOnAboutHalfTheStepsAndRecordsItsStatistic() {
        List<StepRecord> steps = new ArrayList<>();
        RunSummary s = run("aesam", Method.Hyper.defaults(), 160, steps);
        assertTrue(s.samFraction() >= 0.3 && s.samFraction() <= 0.7, "AE-SAM fraction " + s.samFraction());
        assertTrue(steps.get(0).sam(), "step 0 is a SAM step (mu = s0, sigma = 0)");
        for (StepRecord r : steps) {
            assertTrue(Double.isFinite(r.mu()) && Double.isFinite(r.sigma()) && Double.isFinite(r.c()));
            assertEquals(r.s() >= r.mu() + r.c() * r.sigma(), r.sam(), "decision at step " + r.step());
        }
        assertEquals(1.0, steps.get(0).c(), 1e-12);
        assertTrue(steps.get(steps.size() - 1).c() < -0.9);
    }

    @Test
    void everyMethodTrainsAndImproves() {
        for (String m : Method.NAMES) {
            // Three epochs of the 2,000-image sample (48 steps); chance is 0.1, ERM reaches about 0.79 here.
            // LookSAM's reuse adds a direction of norm 0.7·‖g‖ and starts slower (about 0.70), hence the bar.
            RunSummary s = run(m, Method.Hyper.defaults(), 48, null);
            assertTrue(s.testAccuracy() > 0.6, m + " test accuracy after three epochs of the sample: " + s.testAccuracy());
        }
    }
}
