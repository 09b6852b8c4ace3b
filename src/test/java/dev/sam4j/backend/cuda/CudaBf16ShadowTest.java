package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.Bf16ShadowTestAccess;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * On CUDA, the bf16 shadow of the weights is written by the perturbation and update kernels in the pass that writes
 * the weights (sam.cu, sgd.cu), not by a rounding pass before each forward. Checked against a model that rounds the
 * arena itself: the host-driven step through {@code CudaBackend}'s fused operations, and the device-decided graph
 * step (whose captured forward passes then contain no rounding of the arena) against the host step of a model that
 * rounds, bit for bit on the stand-ins. On a GPU the comparison is expected to stay bitwise (both sides run the same
 * kernels, with deterministic cuDNN algorithms; the losses the graph adds in another order do not reach the weights),
 * which only a GPU run of this test can confirm.
 */
@Tag("gpu")
class CudaBf16ShadowTest {

    @ParameterizedTest
    @ValueSource(strings = {"sam", "asam", "looksam", "aesam", "msam", "esam"})
    void theFusedKernelsKeepTheShadowOnTheHostStep(String method) {
        CudaTestSupport.requireCuda();
        try (CudaBackend cuda = (CudaBackend) Backends.choose("cuda", 2, new Backends.Needs("model cnn", true, Precision.BF16)).backend()) {
            Bf16ShadowTestAccess.assertSameRun(cuda, method, "cnn", 6);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sam", "aesam", "asam", "msam", "erm"})
    void theGraphStepWritesTheShadowWithTheWeights(String name) {
        CudaTestSupport.requireCuda();
        int classes = 10, batch = 8, steps = 8;
        Shape input = Shape.of(1, 8, 8);
        Method method = Method.of(name, Method.Hyper.defaults().toBuilder().aeLambda1(-10).aeLambda2(10).build());
        LrSchedule lr = new LrSchedule.Cosine(0.1, 0);
        try (CudaBackend cuda = (CudaBackend) Backends.choose("cuda", 2, new Backends.Needs("model cnn", true, Precision.BF16)).backend();
             Model gm = new Model(Models.create("cnn", input, classes), input, classes, cuda, batch, 7, Precision.BF16);
             Model hm = new Model(Models.create("cnn", input, classes), input, classes, cuda, batch, 7, Precision.BF16)) {
            Buffer x = cuda.allocate((long) batch * input.size()), y = cuda.allocate(batch);
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(cuda, classes, batch);
            // The host side does not keep the shadow: its model rounds the whole arena before every forward.
            SamOptimizer host = new SamOptimizer(cuda, hm.paramLayout(), hm.params(), hm.grads(),
                    new Sgd(cuda, hm.paramCount(), 0.9, 5e-4, false), method, 9);
            GradientClosure closure = mode -> {
                double l = loss.forwardBackward(hm.forward(x, batch, mode), y, batch);
                hm.backward(loss.dLogits(), batch);
                return l;
            };
            try (DeviceDecidedStep graph = new DeviceDecidedStep(gm, x, y, batch, method, lr, steps, 0.9, 5e-4, false, 9)) {
                SplittableRandom r = new SplittableRandom(4);
                int sam = 0;
                for (int t = 0; t < steps; t++) {
                    float[] xs = new float[batch * input.intSize()], ys = new float[batch];
                    for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                    for (int i = 0; i < batch; i++) ys[i] = r.nextInt(classes);
                    cuda.upload(xs, 0, x, xs.length);
                    cuda.upload(ys, 0, y, ys.length);
                    long before = cuda.hostSyncs();
                    graph.step();
                    assertEquals(before, cuda.hostSyncs(), name + " step " + t + ": the bf16 graph step synchronised with the host");
                    SamOptimizer.StepResult o = host.step(closure, t, steps, lr.lr(t, steps));
                    if (o.sam()) sam++;
                    assertArrayEquals(hm.downloadParams(), gm.downloadParams(), name + " step " + t + ": weights, host vs graph");
                }
                float[] w = gm.downloadParams(), shadow = CudaTestSupport.download(cuda, gm.bf16Shadow());
                for (int i = 0; i < w.length; i++) {
                    assertEquals(Float.floatToRawIntBits(Precision.BF16.round(w[i])), Float.floatToRawIntBits(shadow[i]),
                            name + ": shadow[" + i + "] is not bf16(w) after the graph steps");
                }
                if (!name.equals("erm") && !name.equals("msam")) assertTrue(sam > 0, name + ": no SAM step");
            }
        }
    }
}
