package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.ImageLayout;
import dev.sam4j.io.JsonReader;
import dev.sam4j.train.ConfigFile;
import dev.sam4j.train.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --image-layout} through the command line on the CPU: NCHW is the default and is recorded in every run
 * file; channels-last is refused in one line on an explicit CPU device (the CPU backends keep NCHW), and
 * {@code auto} without a GPU runs NCHW and says why; a bad value is one line; a config.json older than the option
 * reads as NCHW. The CUDA side (NHWC end to end) is in CudaChannelsLastTest, CudaConvnetTrainingTest,
 * StepGraphTest and CudaBenchStepPathTest.
 */
class ImageLayoutCommandTest {

    @Test
    void nchwIsTheDefaultAndIsRecordedInEveryRunFile(@TempDir Path dir) throws Exception {
        MainTest.Outcome o = MainTest.run("train", "--data=fashion-mnist-sample", "--device=cpu", "--threads=2", "--max-steps=2",
                "--epochs=1", "--model=cnn", "--out", dir.toString());
        assertEquals(0, o.code(), o.err());
        for (String f : List.of("config.json", "provenance.json", "summary.json")) {
            Map<?, ?> m = (Map<?, ?>) JsonReader.parse(Files.readString(dir.resolve(f)), f);
            assertEquals("nchw", m.get("image_layout"), f);
        }
        assertEquals(ImageLayout.NCHW, ConfigFile.read(dir.resolve("config.json")).imageLayout(), "read back for --resume");
    }

    @Test
    void channelsLastOnAnExplicitCpuIsOneClearLine(@TempDir Path dir) {
        MainTest.assertOneLineError(MainTest.run("train", "--data=fashion-mnist-sample", "--device=cpu", "--max-steps=1",
                "--image-layout=nhwc", "--out", dir.resolve("r").toString()), "--image-layout nhwc");
        MainTest.assertOneLineError(MainTest.run("bench", "--device", "cpu-reference", "--image-layout", "nhwc", "--models", "mlp:8",
                "--input", "1,4,4", "--batch-size", "4", "--warmup", "0", "--steps", "1"), "--image-layout nhwc");
    }

    @Test
    void aBadLayoutIsOneClearLine(@TempDir Path dir) {
        MainTest.assertOneLineError(MainTest.run("train", "--data=fashion-mnist-sample", "--max-steps=1", "--image-layout=nchwc",
                "--out", dir.resolve("r").toString()), "--image-layout");
        MainTest.assertOneLineError(MainTest.run("bench", "--device", "cpu", "--image-layout", "hwcn"), "--image-layout");
    }

    @Test
    void channelsLastIsAnAliasAndOldConfigsReadAsNchw() {
        assertEquals(ImageLayout.NHWC, TrainConfig.builder().imageLayout("channels-last").build().imageLayout());
        assertEquals(ImageLayout.NCHW, TrainConfig.builder().build().imageLayout());
        String json = dev.sam4j.io.Json.pretty(TrainConfig.builder().imageLayout("nhwc").build().toMap());
        assertTrue(json.contains("\"image_layout\": \"nhwc\""), json);
        assertEquals(ImageLayout.NHWC, ConfigFile.parse(json, "config.json").imageLayout());
        String old = json.replace(",\n  \"image_layout\": \"nhwc\"", "").replace("\"image_layout\": \"nhwc\",", "");
        assertTrue(!old.contains("image_layout"), old);
        assertEquals(ImageLayout.NCHW, ConfigFile.parse(old, "old config.json").imageLayout());
    }
}
