package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.optim.sam.Method;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Properties;

/**
 * A digest of everything a training run computes, for the bit-identity tests: every step record (all fields but
 * the step's wall time), every epoch record and the summary (all but their timings), the final weights and the
 * final BatchNorm state, each number by its bits. Two runs have the same digest only if they computed the same
 * values in the same order, so a refactoring that must not change behaviour is checked against digests recorded
 * before it ({@code bit-identity.properties}).
 */
public final class RunDigest implements TrainListener {
    private final MessageDigest md;

    private RunDigest() {
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The small runs of the bit-identity tests: 6 steps per epoch of an mlp on seeded synthetic data, 2 epochs. */
    public static TrainConfig.Builder small(String optimizer) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:192:48").model("mlp").optimizer(optimizer).epochs(2)
                .batchSize(32).evalBatchSize(48).lr(0.05).threads(2).checkpointEvery(5)
                .hyper(Method.Hyper.defaults().toBuilder().lookSamK(3).sssamP(0.6).aeWarmup(0).build());
    }

    /**
     * Trains {@code cfg} (whose {@code out} must be set: checkpoints are part of what is checked) and returns the
     * run's digest. With {@code stopAfter > 0} the run is stopped after that many steps (as Ctrl-C does) and
     * continued from its checkpoint by a second trainer; both parts go into the digest.
     */
    public static String of(TrainConfig cfg, long stopAfter) {
        RunDigest d = new RunDigest();
        d.train(cfg, stopAfter, null);
        if (stopAfter > 0) d.train(cfg, 0, cfg.out().resolve(Checkpoint.FILE));
        return HexFormat.of().formatHex(d.md.digest(), 0, 12);
    }

    private void train(TrainConfig cfg, long stopAfter, Path resumeFrom) {
        try (Trainer t = new Trainer(cfg, resumeFrom)) {
            t.addListener(this);
            if (stopAfter > 0) {
                t.addListener(new TrainListener() {
                    @Override public void onStep(StepRecord s) { if (s.step() == stopAfter - 1) t.requestStop(); }
                });
            }
            t.run();
            for (float f : t.model().downloadParams()) putInt(Float.floatToRawIntBits(f));
            for (float f : t.model().downloadState()) putInt(Float.floatToRawIntBits(f));
        }
    }

    @Override public void onStep(StepRecord r) {
        putLong(r.step()); putLong(r.epoch()); put(r.loss()); put(r.s()); put(r.mu()); put(r.sigma()); put(r.c());
        putLong(r.sam() ? 1 : 0); put(r.lr()); putLong(r.skipped() ? 1 : 0);
    }

    @Override public void onEpoch(EpochRecord e) {
        putLong(e.epoch()); putLong(e.steps()); put(e.trainLoss()); put(e.trainAccuracy()); put(e.testLoss());
        put(e.testAccuracy()); put(e.samFraction()); put(e.lr()); putLong(e.skippedSteps());
    }

    @Override public void onRunEnd(RunSummary s) {
        put(s.testAccuracy()); put(s.bestTestAccuracy()); put(s.testLoss()); put(s.finalTrainLoss()); put(s.samFraction());
        putLong(s.steps()); putLong(s.samSteps()); putLong(s.parameters()); putLong(s.skippedSteps());
        putLong(s.interrupted() ? 1 : 0);
        md.update(s.optimizer().getBytes(StandardCharsets.UTF_8));
    }

    @Override public void beforeCheckpoint(long steps) { putLong(-1 - steps); }

    private void put(double v) { putLong(Double.doubleToLongBits(v)); }
    private void putLong(long v) { md.update(ByteBuffer.allocate(8).putLong(v).array()); }
    private void putInt(int v) { md.update(ByteBuffer.allocate(4).putInt(v).array()); }

    /** The recorded digests ({@code bit-identity.properties} beside this class), key {@code ENV.CASE}. */
    public static Properties expected() {
        Properties p = new Properties();
        try (InputStream in = RunDigest.class.getResourceAsStream("bit-identity.properties")) {
            if (in == null) throw new AssertionError("bit-identity.properties is missing from the test resources");
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** Compares {@code digest} with the one recorded for {@code env.kase}; skips where {@code env} has none recorded. */
    public static void check(String env, String kase, String digest) {
        Properties p = expected();
        assumeTrue(p.stringPropertyNames().stream().anyMatch(k -> k.startsWith(env + ".")),
                () -> "no bit-identity digests recorded for " + env + "; got " + line(env + "." + kase, digest));
        String key = env + "." + kase;
        assertEquals(p.getProperty(key), digest, () -> "the run " + key + " computes other values than recorded (if that is "
                + "intended, the line for bit-identity.properties is " + line(key, digest) + ")");
    }

    /** The line to paste into {@code bit-identity.properties} when a change of behaviour is intended. */
    public static String line(String key, String digest) { return key + "=" + digest; }
}
