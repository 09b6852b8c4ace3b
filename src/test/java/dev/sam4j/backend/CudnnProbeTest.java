package dev.sam4j.backend;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.StandIn;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The device choice asks for what the model needs: a convnet on CUDA needs cuDNN 9 (convolution, pooling,
 * batch norm), an MLP does not. Without a usable cuDNN, {@code --device auto} takes the CPU and says why,
 * and an explicit {@code cuda} refuses in one line, instead of dying at the first convolution. Against the
 * CPU stand-ins, whose cuDNN can be made to fail {@code cudnnCreate} or report version 8.
 */
@Tag("gpu")
class CudnnProbeTest {

    static void requireStandIn() {
        CudaTestSupport.requireStandIn("needs the CPU stand-ins of the CUDA libraries, whose cuDNN can be made unusable");
    }

    static TrainConfig config(String model, String device) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:64:16").model(model).optimizer("erm").device(device).threads(1)
                .epochs(1).batchSize(16).evalBatchSize(16).maxSteps(2).build();
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"cudnn.create, 1001, cudnnCreate", "cudnn.version, 80907, cuDNN 8.9.7 was found, sam4j needs cuDNN 9"})
    void anExplicitCudaRefusesAConvnetInOneLine(String key, int value, String why) {
        requireStandIn();
        try (StandIn.Setting s = StandIn.set(key, value)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(config("cnn", "cuda")).close());
            assertTrue(e.getMessage().startsWith("device(\"cuda\"): model cnn needs cuDNN 9 for convolution, pooling and batch norm, "
                    + "which is not usable here: ") && e.getMessage().contains(why) && !e.getMessage().contains("\n"), e.getMessage());
            assertTrue(((dev.sam4j.io.InvalidSettingException) e).commandLineMessage().startsWith("--device cuda: model cnn needs cuDNN 9"),
                    "the command line's wording");
        }
    }

    @Test
    void anMlpTrainsOnCudaWithoutCudnn() {
        requireStandIn();
        try (StandIn.Setting s = StandIn.set("cudnn.create", 1001); Trainer t = new Trainer(config("mlp", "cuda"))) {
            assertInstanceOf(CudaBackend.class, t.backend());
            assertEquals(2, t.run().steps());
        }
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"cudnn.create, 1001, cudnnCreate", "cudnn.version, 80907, cuDNN 8.9.7 was found, sam4j needs cuDNN 9"})
    void autoTakesTheCpuForAConvnetAndSaysWhy(String key, int value, String why) {
        requireStandIn();
        Backends.Needs convnet = new Backends.Needs("model cnn", false);
        try (StandIn.Setting s = StandIn.set(key, value)) {
            Backends.Choice c = Backends.choose("auto", 1, convnet, true);
            try (Backend b = c.backend()) {
                assertInstanceOf(CpuBackend.class, b);
                assertTrue(c.reason().startsWith("auto: no usable GPU (model cnn needs cuDNN 9 for convolution, pooling and batch norm: ")
                        && c.reason().contains(why) && c.reason().endsWith("), using the CPU"), c.reason());
            }
            try (Backend b = Backends.choose("auto", 1, Backends.Needs.DENSE, true).backend()) {
                assertInstanceOf(CudaBackend.class, b, "an MLP does not need cuDNN");
            }
        }
        try (Backend b = Backends.choose("auto", 1, convnet, true).backend()) {
            assertInstanceOf(CudaBackend.class, b, "with cuDNN usable, auto takes the GPU for a convnet");
        }
    }

    /**
     * The handle the probe opens (and keeps for the run) is device memory like any other: the driver's count
     * sees it, and closing the backend gives it back. Measured by a second backend held open across.
     */
    @Test
    void theProbesHandleIsCountedAndGivenBackOnClose() {
        requireStandIn();
        try (CudaBackend observer = new CudaBackend(0, false)) {
            long before = observer.deviceMemoryInUse();
            try (CudaBackend b = new CudaBackend(0, false)) {
                long opened = observer.deviceMemoryInUse();
                assertNull(b.cudnnUnusable());
                assertEquals(2L << 20, observer.deviceMemoryInUse() - opened, "the stand-in charges a cuDNN handle 2 MiB");
            }
            assertEquals(before, observer.deviceMemoryInUse(), "closing the backend gives the probe's handle back");
        }
    }
}
