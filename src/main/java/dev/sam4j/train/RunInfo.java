package dev.sam4j.train;

/**
 * What a run is about to do, known before its first step.
 *
 * @param dataDescription which data set was used (embedded sample or full set, sizes, label noise)
 * @param backendReason   why this backend was chosen
 * @param resume          where a resumed run continues, or null for a fresh run
 */
public record RunInfo(TrainConfig config, String dataDescription, String backendName, String backendDescription,
                      String backendReason, String model, long parameters, long stepsPerEpoch, long totalSteps,
                      int trainSize, int testSize, ResumePoint resume) {

    /** A resumed run starts with global step {@code step}, within 1-based epoch {@code epoch}. */
    public record ResumePoint(long step, int epoch) {}
}
