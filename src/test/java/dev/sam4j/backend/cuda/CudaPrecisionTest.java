package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Precision;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code --precision} on the CUDA backend: TF32 opens cuBLAS and cuDNN in tensor-op TF32 math (the backend says so
 * and supports TF32 only), and bf16, not built on CUDA yet, is refused before anything is trained, with the reason.
 */
@Tag("gpu")
class CudaPrecisionTest {

    @Test
    void theBackendIsOpenedForThePrecision() {
        CudaTestSupport.requireCuda();
        try (Backend fp32 = Backends.choose("cuda", 2, new Backends.Needs(null, false, Precision.FP32)).backend();
             Backend tf32 = Backends.choose("cuda", 2, new Backends.Needs(null, false, Precision.TF32)).backend()) {
            assertTrue(fp32.supports(Precision.FP32) && !fp32.supports(Precision.TF32) && !fp32.supports(Precision.BF16));
            assertTrue(tf32.supports(Precision.TF32) && !tf32.supports(Precision.FP32));
            assertTrue(tf32.describe().contains("TF32 tensor cores"), tf32.describe());
            assertTrue(fp32.describe().contains("TF32 off"), fp32.describe());
            assertFalse(tf32.supports(Precision.BF16));
        }
    }

    @Test
    void bf16IsRefusedClearly() {
        CudaTestSupport.requireCuda();
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:4:64:16").model("mlp").device("cuda").threads(2)
                .epochs(1).batchSize(16).precision("bf16").build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(cfg).close());
        assertTrue(e.getMessage().startsWith("--precision bf16: bf16 on CUDA is not built yet"), e.getMessage());
    }
}
