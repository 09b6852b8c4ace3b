package dev.sam4j.optim.sam;

import dev.sam4j.backend.Backend;

/** Opens {@link Bf16ShadowTest}'s comparison to the CUDA tests (another package). */
public final class Bf16ShadowTestAccess {
    private Bf16ShadowTestAccess() {}

    /** See {@link Bf16ShadowTest#assertSameRun}. */
    public static void assertSameRun(Backend be, String method, String net, int steps) {
        Bf16ShadowTest.assertSameRun(be, method, net, steps);
    }
}
