package dev.sam4j.train;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The trainer's behaviour, pinned: every method, and the host step's variants (a short last batch, a run stopped and
 * resumed from its checkpoint, {@code --input synthetic}, a convnet), trained with fixed seeds on the CPU, must give
 * the digest ({@link RunDigest}: every record, the checkpoint steps, the final weights) recorded in
 * {@code src/test/resources/dev/sam4j/train/bit-identity.properties}. A refactoring must leave them all unchanged.
 *
 * <p>The CPU backend's sums depend on the vector width the JVM picks, so the digests are recorded per width (key
 * {@code cpu-BITS.CASE}); on a width with none recorded the test skips, saying so. A change that is meant to change
 * behaviour (another default, a new option's effect) changes some digests: each failure names the line to paste
 * into the file ({@code CASE=DIGEST}); regenerate all with
 * {@code scripts/test -o -Dtest=TrainerBitIdentityTest -Dsurefire.failIfNoSpecifiedTests=false} and take the lines
 * from the failures, and say in the commit why they changed. The CUDA step paths' digests, on the stand-ins, are
 * pinned by {@code CudaTrainerBitIdentityTest}.
 */
class TrainerBitIdentityTest {
    static final String ENV = "cpu-" + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();

    /** {@code KIND.METHOD}: host (2 epochs of full batches), partial (a short last batch), resume (stopped after 5
     * steps and resumed), syninput ({@code --input synthetic}), cnn (the zoo's cnn: convolution, batch norm, pooling). */
    static TrainConfig config(String kase, Path dir) {
        String[] k = kase.split("\\.");
        TrainConfig.Builder b = RunDigest.small(k[1]).device("cpu").out(dir);
        switch (k[0]) {
            case "host", "resume" -> { }
            case "partial" -> b.data("synthetic:1,8,8:4:200:48");
            case "syninput" -> b.input("synthetic");
            case "cnn" -> b.model("cnn").data("synthetic:1,8,8:4:64:16").batchSize(16).evalBatchSize(16).epochs(1);
            default -> throw new IllegalArgumentException(kase);
        }
        return b.build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"host.erm", "host.sam", "host.esam", "host.sssam", "host.looksam", "host.aesam", "host.aelooksam",
            "host.asam", "partial.aesam", "partial.esam", "resume.sam", "resume.esam", "resume.looksam", "resume.aesam",
            "resume.sssam", "syninput.aesam", "cnn.aesam"})
    void sameDigestAsRecorded(String kase, @TempDir Path dir) {
        RunDigest.check(ENV, kase, RunDigest.of(config(kase, dir), kase.startsWith("resume.") ? 5 : 0));
    }
}
