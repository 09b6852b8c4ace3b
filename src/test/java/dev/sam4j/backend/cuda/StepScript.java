package dev.sam4j.backend.cuda;

import dev.sam4j.nn.ScriptedLayer;
import java.util.SplittableRandom;

/**
 * One step's script for a {@link ScriptedLayer}: the logits and gradient of pass 1 and of pass 2, and the faults
 * that can be written into them. Labels are {@code i mod classes}, so example 0 has label 0.
 */
record StepScript(float[] logits1, float[] grad1, float[] logits2, float[] grad2) {
    /** Pass-1 logits ±this around example 0's label: the loss overflows to +Inf, the gradient stays finite. */
    static final float HUGE = 3e38f;

    /** Random logits; a pass-1 gradient of scale {@code scale}; pass 2's is the same plus a smaller random part. */
    static StepScript good(SplittableRandom r, int batch, int classes, int size, double scale) {
        float[] l1 = new float[batch * classes], l2 = new float[batch * classes], g1 = new float[size], g2 = new float[size];
        for (int i = 0; i < l1.length; i++) {
            l1[i] = (float) r.nextGaussian();
            l2[i] = l1[i] + (float) (0.1 * r.nextGaussian());
        }
        for (int i = 0; i < size; i++) {
            g1[i] = (float) (scale * r.nextGaussian());
            g2[i] = g1[i] + (float) (0.3 * scale * r.nextGaussian());
        }
        return new StepScript(l1, g1, l2, g2);
    }

    /** The uploadable labels of a batch: {@code i mod classes}. */
    static float[] labels(int batch, int classes) {
        float[] y = new float[batch];
        for (int i = 0; i < batch; i++) y[i] = i % classes;
        return y;
    }

    /** This step with {@code fault} written in: loss, gradient, nan (both, pass 1), pass2-loss, pass2-gradient, or none. */
    StepScript with(String fault, int classes) {
        StepScript f = new StepScript(logits1.clone(), grad1.clone(), logits2.clone(), grad2.clone());
        switch (fault) {
            case "none" -> { }
            case "loss" -> overflowLoss(f.logits1, classes);
            case "gradient" -> f.grad1[1] = Float.POSITIVE_INFINITY;
            case "nan" -> {
                f.logits1[2] = Float.NaN;
                f.grad1[0] = Float.NaN;
            }
            case "pass2-loss" -> overflowLoss(f.logits2, classes);
            case "pass2-gradient" -> f.grad2[2] = Float.NaN;
            default -> throw new IllegalArgumentException("unknown fault " + fault);
        }
        return f;
    }

    /** Pass 2's gradient set to {@code factor}·g plus {@code orthogonal} times a fixed vector orthogonal to g. */
    StepScript withParallelSamGradient(double factor, double orthogonal) {
        float[] g2 = new float[grad1.length];
        // u ⟂ g: u_0 = g_1, u_1 = −g_0, 0 elsewhere.
        for (int i = 0; i < g2.length; i++) {
            double u = i == 0 ? grad1[1] : i == 1 ? -grad1[0] : 0;
            g2[i] = (float) (factor * grad1[i] + orthogonal * u);
        }
        return new StepScript(logits1, grad1, logits2, g2);
    }

    /** Example 0's logit of class 1 at +HUGE and of its label (0) at −HUGE: the loss is HUGE − (−HUGE) = +Inf. */
    private static void overflowLoss(float[] logits, int classes) {
        logits[1] = HUGE;
        logits[0] = -HUGE;
    }

    void applyTo(ScriptedLayer layer) { layer.script(logits1, grad1, logits2, grad2); }
}
