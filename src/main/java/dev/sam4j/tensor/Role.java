package dev.sam4j.tensor;

/** What a tensor in a layout is for. Roles let optimizers and exporters treat kinds of tensors differently. */
public enum Role {
    /** Linear or convolution weight (trainable). */
    WEIGHT,
    /** Linear or convolution bias (trainable). */
    BIAS,
    /** BatchNorm scale γ (trainable). */
    BN_SCALE,
    /** BatchNorm shift β (trainable). */
    BN_SHIFT,
    /** BatchNorm running mean (state, not trained). */
    RUNNING_MEAN,
    /** BatchNorm running variance (state, not trained). */
    RUNNING_VAR;

    public boolean trainable() { return this != RUNNING_MEAN && this != RUNNING_VAR; }
}
