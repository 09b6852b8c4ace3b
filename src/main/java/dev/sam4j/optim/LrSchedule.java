package dev.sam4j.optim;

/**
 * Learning rate as a function of the 0-based step {@code t} of a run of {@code totalSteps} steps,
 * optionally preceded by a linear warm-up from {@code base/warmup} to {@code base} over the first
 * {@code warmupSteps} steps (PyTorch's LinearLR-then-schedule convention: the schedule's clock keeps
 * running during warm-up, so cosine still reaches 0 at {@code T}).
 */
public sealed interface LrSchedule {

    double base();

    int warmupSteps();

    /** The schedule without warm-up at step {@code t}. */
    double scheduled(long t, long totalSteps);

    default double lr(long t, long totalSteps) {
        double lr = scheduled(t, totalSteps);
        if (t < warmupSteps()) lr *= (t + 1) / (double) warmupSteps();
        return lr;
    }

    /** {@code lr = base}. */
    record Constant(double base, int warmupSteps) implements LrSchedule {
        public Constant { check(base, warmupSteps); }
        @Override public double scheduled(long t, long total) { return base; }
    }

    /** {@code lr = base · gamma^floor(t / everySteps)}. */
    record Step(double base, int warmupSteps, long everySteps, double gamma) implements LrSchedule {
        public Step {
            check(base, warmupSteps);
            if (everySteps < 1) throw new IllegalArgumentException("step schedule: interval must be >= 1 step, got " + everySteps);
            if (!(gamma > 0 && gamma <= 1)) throw new IllegalArgumentException("step schedule: gamma must be in (0, 1], got " + gamma);
        }
        @Override public double scheduled(long t, long total) { return base * Math.pow(gamma, t / everySteps); }
    }

    /** {@code lr = base · (1 + cos(π·t/T)) / 2}, per step, reaching 0 at {@code T}. */
    record Cosine(double base, int warmupSteps) implements LrSchedule {
        public Cosine { check(base, warmupSteps); }
        @Override public double scheduled(long t, long total) {
            if (total <= 0) return base;
            return base * 0.5 * (1 + Math.cos(Math.PI * Math.min(t, total) / total));
        }
    }

    private static void check(double base, int warmup) {
        if (!(base > 0) || !Double.isFinite(base)) throw new IllegalArgumentException("learning rate must be a positive number, got " + base);
        if (warmup < 0) throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmup);
    }

    /**
     * Parses {@code constant}, {@code cosine}, {@code step} (every 30% of the run, gamma 0.1) or
     * {@code step:EVERY_STEPS:GAMMA}.
     */
    static LrSchedule parse(String spec, double base, int warmupSteps, long totalSteps) {
        String s = spec.trim().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("constant")) return new Constant(base, warmupSteps);
        if (s.equals("cosine")) return new Cosine(base, warmupSteps);
        if (s.equals("step")) return new Step(base, warmupSteps, Math.max(1, (long) Math.ceil(totalSteps * 0.3)), 0.1);
        if (s.startsWith("step:")) {
            String[] p = s.split(":");
            if (p.length != 3) throw new IllegalArgumentException("schedule 'step:EVERY_STEPS:GAMMA' expected, got '" + spec + "'");
            try {
                return new Step(base, warmupSteps, Long.parseLong(p[1]), Double.parseDouble(p[2]));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("schedule 'step:EVERY_STEPS:GAMMA' expected numbers, got '" + spec + "'");
            }
        }
        throw new IllegalArgumentException("unknown schedule '" + spec + "'; valid: constant, cosine, step, step:EVERY_STEPS:GAMMA");
    }
}
