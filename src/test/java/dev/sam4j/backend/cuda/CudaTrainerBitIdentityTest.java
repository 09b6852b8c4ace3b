package dev.sam4j.backend.cuda;

import dev.sam4j.train.RunDigest;
import dev.sam4j.train.TrainConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code TrainerBitIdentityTest} for the CUDA backend's step paths: the device-decided graph for every method it
 * takes, the graph with the decision read back, the host-driven step on CUDA (ESAM too), a graph run stopped and
 * resumed from its checkpoint, and {@code --input synthetic} on the graph, each against the digest recorded in
 * {@code bit-identity.properties} (key {@code standin.KIND.METHOD}). The stand-ins compute in plain C in a fixed
 * order, so the digests are reproducible there; on a real GPU (other sums) the test skips. Regenerate as that test
 * says, in the {@code cuda-stand-in} run.
 */
@Tag("gpu")
class CudaTrainerBitIdentityTest {

    /** {@code PATH.METHOD} or {@code resume-graph.METHOD} (stopped after 5 steps) or {@code syninput-graph.METHOD}. */
    static TrainConfig config(String kase, Path dir) {
        String[] k = kase.split("\\.");
        TrainConfig.Builder b = RunDigest.small(k[1]).device("cuda").out(dir);
        switch (k[0]) {
            case "graph", "readback", "host" -> b.cudaStep(k[0]);
            // the specification's AE-LookSAM (g_v never expires), as the graph step ran it before --looksam-max-age;
            // graph.aelooksam is the default (g_v expires after 4 steps without a SAM step)
            case "graph-spec" -> b.cudaStep("graph").hyper(RunDigest.small(k[1]).build().hyper().toBuilder().lookSamMaxAge(0).build());
            case "resume-graph" -> b.cudaStep("graph");
            case "syninput-graph" -> b.cudaStep("graph").input("synthetic");
            case "partial-host" -> b.cudaStep("host").data("synthetic:1,8,8:4:200:48");
            default -> throw new IllegalArgumentException(kase);
        }
        return b.build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"graph.erm", "graph.sam", "graph.asam", "graph.sssam", "graph.looksam", "graph.aesam",
            "graph-spec.aelooksam", "graph.aelooksam", "graph.msam", "readback.aesam", "readback.sssam", "host.aesam", "host.esam", "host.msam", "resume-graph.aesam",
            "resume-graph.looksam", "syninput-graph.aesam", "partial-host.aesam"})
    void sameDigestAsRecorded(String kase, @TempDir Path dir) {
        CudaTestSupport.requireStandIn("the digests are of the stand-ins' arithmetic");
        RunDigest.check("standin", kase, RunDigest.of(config(kase, dir), kase.startsWith("resume-") ? 5 : 0));
    }
}
