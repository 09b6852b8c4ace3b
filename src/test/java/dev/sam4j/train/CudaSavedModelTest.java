package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.data.DataSpec;
import dev.sam4j.data.Dataset;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model trained on the CPU, saved, and loaded onto the CUDA backend (on the stand-ins here, a GPU where there is
 * one): within float rounding of another GEMM order, the CPU's logits and test loss; the model's, the input's and
 * the evaluation's device buffers are given back on close.
 */
@Tag("gpu")
class CudaSavedModelTest {
    @Test
    void aCpuTrainedModelRunsOnCudaAndGivesItsMemoryBack(@TempDir Path dir) {
        CudaTestSupport.requireCuda();
        String data = "synthetic:3,8,8:4:192:48";
        Dataset test = DataSpec.parse(data).load().test();
        Path file = dir.resolve("model.safetensors");
        try (Trainer t = new Trainer(TrainConfig.builder().data(data).model("cnn").optimizer("sam").epochs(1).maxSteps(4).batchSize(32)
                .evalBatchSize(48).device("cpu").threads(1).build())) {
            t.run();
            t.saveModel(file);
        }
        float[] cpu;
        Evaluation onCpu;
        try (CpuBackend b = new CpuBackend(1); SavedModel m = SavedModel.load(file, b, 48)) {
            cpu = m.logits(test.pixels(), test.size());
            onCpu = m.evaluate(test);
        }
        try (CudaBackend cuda = new CudaBackend(0, false)) {
            long before = cuda.allocatedBytes();
            try (SavedModel m = SavedModel.load(file, cuda, 16)) {
                float[] gpu = m.logits(test.pixels(), test.size());
                for (int i = 0; i < cpu.length; i++) assertEquals(cpu[i], gpu[i], 1e-4 * Math.max(1, Math.abs(cpu[i])), "logit " + i);
                Evaluation e = m.evaluate(test);
                assertEquals(onCpu.examples(), e.examples());
                assertEquals(onCpu.loss(), e.loss(), 1e-5);
                assertTrue(cuda.allocatedBytes() > before);
            }
            assertEquals(before, cuda.allocatedBytes(), "the model's and SavedModel's own buffers are given back");
        }
    }
}
