package dev.sam4j.train;

/**
 * What a run is about to do, known before its first step.
 *
 * @param dataDescription which data set was used (embedded sample or full set, sizes, label noise)
 * @param backendReason   why this backend was chosen
 */
public record RunInfo(TrainConfig config, String dataDescription, String backendName, String backendDescription,
                      String backendReason, String model, long parameters, long stepsPerEpoch, long totalSteps,
                      int trainSize, int testSize) {}
