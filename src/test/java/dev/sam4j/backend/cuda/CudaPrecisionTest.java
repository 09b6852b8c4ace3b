package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.CpuBackend;
import java.util.SplittableRandom;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code --precision} on the CUDA backend: TF32 opens cuBLAS and cuDNN in tensor-op TF32 math (the backend says so
 * and supports TF32 only), its GEMMs and convolutions agree with the CPU's TF32 emulation and differ from fp32
 * (on a GPU: the tensor cores are really used), and bf16, not built on CUDA yet, is refused before anything is
 * trained, with the reason.
 *
 * <p>Tolerances: the stand-ins round TF32 exactly as the CPU emulation does (to nearest even), so they differ only
 * in summation order, within {@code 1e-5·Σ|a·b|}. A GPU may round ties away from zero or truncate instead, which
 * changes each input by at most one TF32 ulp ({@code 2⁻¹⁰} relative), so there the bound is {@code 2⁻⁹·Σ|a·b|}.
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
    void tf32GemmAndConvolutionMatchTheCpuEmulation() {
        CudaTestSupport.requireCuda();
        double tol = CudaTestSupport.realGpu() ? 0x1p-9 : 1e-5;
        try (Backend cuda = Backends.choose("cuda", 2, new Backends.Needs("tf32 test", false, Precision.TF32)).backend();
             CpuBackend tf32 = new CpuBackend(2, true); CpuBackend fp32 = new CpuBackend(2)) {
            SplittableRandom r = new SplittableRandom(21);
            int m = 19, n = 45, k = 333;
            float[] a = random(m * k, r), b = random(k * n, r);
            float[][] out = new float[3][];
            Backend[] bes = {cuda, tf32, fp32};
            for (int i = 0; i < 3; i++) {
                Backend be = bes[i];
                Buffer c = be.allocate((long) m * n);
                be.gemm(false, true, m, n, k, 1f, put(be, a), k, put(be, b), k, 0f, c, n);
                out[i] = get(be, c, m * n);
            }
            float[] scale = new float[m * n];
            Buffer c = fp32.allocate((long) m * n);
            fp32.gemm(false, true, m, n, k, 1f, put(fp32, abs(a)), k, put(fp32, abs(b)), k, 0f, c, n);
            scale = get(fp32, c, m * n);
            compare("gemm", out, scale, tol);

            ConvGeom g = new ConvGeom(6, 9, 9, 5, 3, 3, 1, 1);
            int batch = 2;
            float[] x = random(batch * g.inSize(), r), w = random(g.outC() * g.patchSize(), r);
            for (int i = 0; i < 3; i++) {
                Backend be = bes[i];
                Buffer y = be.allocate((long) batch * g.outSize()), ws = be.allocate(Math.max(1, be.convWorkspaceSize(g, batch)));
                be.convForward(g, batch, put(be, x), put(be, w), null, y, ws);
                out[i] = get(be, y, batch * g.outSize());
            }
            Buffer y = fp32.allocate((long) batch * g.outSize()), ws = fp32.allocate(Math.max(1, fp32.convWorkspaceSize(g, batch)));
            fp32.convForward(g, batch, put(fp32, abs(x)), put(fp32, abs(w)), null, y, ws);
            compare("convolution", out, get(fp32, y, batch * g.outSize()), tol);
        }
    }

    /** {@code out[0]} (CUDA) within {@code tol·scale} of {@code out[1]} (CPU TF32), and not the fp32 result {@code out[2]}. */
    private static void compare(String what, float[][] out, float[] scale, double tol) {
        double farthestFromFp32 = 0;
        for (int i = 0; i < scale.length; i++) {
            double d = Math.abs(out[0][i] - out[1][i]);
            assertTrue(d <= tol * scale[i] + 1e-30, what + " element " + i + ": cuda " + out[0][i] + ", cpu tf32 " + out[1][i]);
            farthestFromFp32 = Math.max(farthestFromFp32, Math.abs(out[0][i] - out[2][i]) / scale[i]);
        }
        // TF32's input rounding moves results by ~2^-11 of Σ|a·b|; fp32 summation order by ~1e-7.
        assertTrue(farthestFromFp32 > 1e-5, what + ": the TF32 result is the fp32 one (largest difference " + farthestFromFp32
                + " of Σ|a·b|): TF32 math is not in use");
    }

    private static float[] random(int n, SplittableRandom r) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    private static float[] abs(float[] v) {
        float[] a = new float[v.length];
        for (int i = 0; i < v.length; i++) a[i] = Math.abs(v[i]);
        return a;
    }

    private static Buffer put(Backend be, float[] v) {
        Buffer b = be.allocate(v.length);
        be.upload(v, 0, b, v.length);
        return b;
    }

    private static float[] get(Backend be, Buffer b, int n) {
        float[] v = new float[n];
        be.download(b, v, 0, n);
        return v;
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
