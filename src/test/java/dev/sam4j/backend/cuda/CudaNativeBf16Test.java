package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Native bf16 storage on CUDA ({@link CudaBackend#storesBf16Natively}): 16-bit buffers and the operations on them,
 * against the CPU's bf16 emulation, i.e. the double-precision {@link ReferenceBackend} on the same bf16 values with
 * the result rounded once to bf16 where the layers store it. Conversions, the elementwise kernels and the
 * permutation are exact, so they are held bit for bit; GEMMs, convolutions, pooling and batch norm sum in another
 * order than the reference, so their results may differ by a bf16 ulp (2⁻⁸ relative) where a sum lands near a
 * rounding boundary. End to end (the bf16 graph step and the trainer against the emulation): CudaPrecisionTest.
 */
@Tag("gpu")
class CudaNativeBf16Test {
    private static CudaBackend cuda, nhwc;
    private static final ReferenceBackend ref = new ReferenceBackend();
    /** One bf16 ulp at 1 is 2⁻⁷; results are compared to 1.5 ulps of their magnitude plus that of the sum's scale. */
    private static final double ULP = 0x1p-7;

    @BeforeEach
    void open() {
        CudaTestSupport.requireCuda();
        if (cuda == null) {
            cuda = new CudaBackend(0, Precision.BF16, false);
            nhwc = new CudaBackend(0, Precision.BF16, false, ImageLayout.NHWC);
        }
    }

    @AfterAll
    static void close() {
        if (cuda != null) { cuda.close(); nhwc.close(); }
        cuda = null;
    }

    private static float bf(double v) { return Precision.BF16.round((float) v); }

    private static float[] values(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = bf(lo + r.nextDouble() * (hi - lo));
        return v;
    }

    private static Buffer bf16(CudaBackend be, float[] v) {
        Buffer b = be.allocateBf16(v.length);
        be.upload(v, 0, b, v.length);
        return b;
    }

    private static Buffer f32(CudaBackend be, float[] v) {
        Buffer b = be.allocate(v.length);
        be.upload(v, 0, b, v.length);
        return b;
    }

    private static Buffer refOf(float[] v) {
        Buffer b = ref.allocate(v.length);
        ref.upload(v, 0, b, v.length);
        return b;
    }

    private static float[] get(CudaBackend be, Buffer b) {
        float[] out = new float[Math.toIntExact(b.length())];
        be.download(b, out, 0, out.length);
        return out;
    }

    private static float[] getRef(Buffer b) {
        double[] d = ref.read(b);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
        return out;
    }

    private static void bitForBit(String what, float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]) && !(Float.isNaN(want[i]) && Float.isNaN(got[i]))) {
                fail(what + ": element " + i + " is " + got[i] + ", want " + want[i]);
            }
        }
    }

    /** {@code got} (bf16 values) within 1.5 bf16 ulps of bf16({@code exact}), relative to each value and the largest one. */
    private static void closeToRounded(String what, float[] exact, float[] got) {
        double scale = 0;
        for (float e : exact) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < exact.length; i++) {
            float want = bf(exact[i]);
            if (Precision.BF16.round(got[i]) != got[i]) fail(what + ": element " + i + " = " + got[i] + " is not a bf16 value");
            if (!(Math.abs(got[i] - want) <= 1.5 * ULP * (Math.abs(want) + 1e-3 * scale))) {
                fail(what + ": element " + i + " is " + got[i] + ", the emulation " + want + " (exact " + exact[i] + ")");
            }
        }
    }

    @Test
    void conversionsAreTheEmulationsBitForBit() {
        assertTrue(cuda.storesBf16Natively());
        float[] v = {0f, -0f, 1f, 1.00390625f /* a tie: rounds to even */, 1.01171875f /* a tie: rounds up */, -3.14159f, 1e-40f /* subnormal */,
                Float.MAX_VALUE /* overflows to infinity */, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 65504f, 1e30f, -7e-20f};
        float[] want = new float[v.length];
        for (int i = 0; i < v.length; i++) want[i] = Precision.BF16.round(v[i]);
        // on the device: roundTo from a float buffer into a bf16 one (f32_to_bf16), and back (bf16_to_f32, exact)
        Buffer x = f32(cuda, v), y = cuda.allocateBf16(v.length), back = cuda.allocate(v.length);
        cuda.roundTo(Precision.BF16, x, y, v.length);
        bitForBit("f32_to_bf16", want, get(cuda, y));
        cuda.roundTo(Precision.BF16, y, back, v.length);
        bitForBit("bf16_to_f32", want, get(cuda, back));
        // uploads into a bf16 buffer round on the host, the same way
        bitForBit("upload into bf16", want, get(cuda, bf16(cuda, v)));
        Buffer copy = cuda.allocateBf16(v.length);
        cuda.copy(y, copy, v.length);
        bitForBit("copy_bf16", want, get(cuda, copy));
        cuda.fill(copy.slice(2, 5), 2.71828f, 5);
        float[] filled = get(cuda, copy);
        for (int i = 2; i < 7; i++) assertEquals(Precision.BF16.round(2.71828f), filled[i], 0f, "fill_bf16");
        assertEquals(want[7], filled[7], 0f, "fill stays in its slice");
        // a slice of a bf16 buffer is 2 bytes per element
        bitForBit("a bf16 slice", java.util.Arrays.copyOfRange(want, 3, 9), get(cuda, y.slice(3, 6)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.copy(x, y, v.length));
        assertTrue(e.getMessage().contains("bf16") && e.getMessage().contains("float"), e.getMessage());
    }

    @Test
    void elementwiseOpsAreTheEmulationsBitForBit() {
        int n = 1031;
        float[] a = values(n, 1, -2, 2), b = values(n, 2, -2, 2), dy = values(n, 3, -1, 1);
        Buffer ga = bf16(cuda, a), gb = bf16(cuda, b), gdy = bf16(cuda, dy), out = cuda.allocateBf16(n);
        float[] relu = new float[n], drelu = new float[n], sum = new float[n];
        for (int i = 0; i < n; i++) {
            relu[i] = Math.max(a[i], 0f);
            drelu[i] = relu[i] > 0 ? dy[i] : 0f;
            sum[i] = bf((double) a[i] + b[i]);
        }
        cuda.reluForward(ga, out, n);
        bitForBit("relu_forward_bf16", relu, get(cuda, out));
        Buffer dx = cuda.allocateBf16(n);
        cuda.reluBackward(out, gdy, dx, n);
        bitForBit("relu_backward_bf16", drelu, get(cuda, dx));
        cuda.add(ga, gb, out, n);
        bitForBit("add_bf16", sum, get(cuda, out));
        // the channels-last permutation of bf16 images, both ways
        int imgs = 3, c = 35, hw = 29;
        float[] img = values(imgs * c * hw, 4, -1, 1), perm = new float[img.length];
        for (int q = 0; q < imgs; q++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++) perm[(q * hw + p) * c + ch] = img[(q * c + ch) * hw + p];
        Buffer src = bf16(nhwc, img), dst = nhwc.allocateBf16(img.length), round = nhwc.allocateBf16(img.length);
        nhwc.toImageLayout(imgs, c, hw, src, dst);
        bitForBit("permute_channels_bf16 to NHWC", perm, get(nhwc, dst));
        nhwc.fromImageLayout(imgs, c, hw, dst, round);
        bitForBit("permute_channels_bf16 back", img, get(nhwc, round));
    }

    @Test
    void gemmBiasAndLossMatchTheEmulation() {
        int m = 17, n = 23, k = 131;
        float[] x = values(m * k, 5, -1, 1), w = values(n * k, 6, -0.5, 0.5), bias = values(n, 7, -1, 1);
        // y = x·wᵀ (a Linear's forward) with bf16 C, and with an fp32 C then its bias and one rounding
        Buffer gx = bf16(cuda, x), gw = bf16(cuda, w), gy = cuda.allocateBf16((long) m * n), acc = cuda.allocate((long) m * n);
        Buffer rx = refOf(x), rw = refOf(w), ry = ref.allocate((long) m * n);
        cuda.gemm(false, true, m, n, k, 1f, gx, k, gw, k, 0f, gy, n);
        ref.gemm(false, true, m, n, k, 1f, rx, k, rw, k, 0f, ry, n);
        float[] exact = getRef(ry);
        closeToRounded("gemm bf16 x bf16 -> bf16", exact, get(cuda, gy));
        cuda.gemm(false, true, m, n, k, 1f, gx, k, gw, k, 0f, acc, n);
        float[] accv = get(cuda, acc);
        double scale = 0;
        for (float e : exact) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < accv.length; i++) {
            assertTrue(Math.abs(accv[i] - exact[i]) <= 1e-5 * scale, "gemm bf16 x bf16 -> fp32 element " + i + ": " + accv[i] + " vs " + exact[i]);
        }
        Buffer gb = bf16(cuda, bias);
        cuda.addRowBiasStored(acc, gb, gy, m, n);
        float[] withBias = new float[m * n];
        for (int i = 0; i < withBias.length; i++) withBias[i] = bf((double) accv[i] + bias[i % n]);
        bitForBit("add_row_bias_round (one rounding, bias included)", withBias, get(cuda, gy));
        // the bias gradient of a bf16 dy, in fp32
        Buffer db = cuda.allocate(n), rdb = ref.allocate(n);
        float[] yv = get(cuda, gy);
        cuda.sumRows(gy, db, m, n);
        ref.sumRows(refOf(yv), rdb, m, n);
        float[] want = getRef(rdb), got = get(cuda, db);
        for (int i = 0; i < n; i++) assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), "sum_rows_bf16 column " + i);
        // softmax cross-entropy on bf16 logits; the loss and dLogits stay fp32
        float[] labels = new float[m];
        for (int i = 0; i < m; i++) labels[i] = i % n;
        Buffer gl = f32(cuda, labels), loss = cuda.allocate(m), dl = cuda.allocate((long) m * n);
        Buffer rloss = ref.allocate(m), rdl = ref.allocate((long) m * n);
        cuda.softmaxCrossEntropy(m, n, gy, gl, dl, loss);
        ref.softmaxCrossEntropy(m, n, refOf(yv), refOf(labels), rdl, rloss);
        float[] lw = getRef(rloss), lg = get(cuda, loss), dw = getRef(rdl), dg = get(cuda, dl);
        for (int i = 0; i < m; i++) assertEquals(lw[i], lg[i], 1e-5 * (1 + Math.abs(lw[i])), "softmax_xent_bf16 loss " + i);
        for (int i = 0; i < dw.length; i++) assertEquals(dw[i], dg[i], 1e-6, "softmax_xent_bf16 dlogits " + i);
        assertThrows(IllegalArgumentException.class, () -> cuda.gemm(false, true, m, n, k, 1f, gx, k, f32(cuda, w), k, 0f, gy, n));
    }

    /** Reference side of an image: NCHW floats. CUDA side: bf16, in the backend's layout. */
    private static Buffer image(CudaBackend be, float[] nchw, int n, int c, int hw) {
        Buffer b = bf16(be, nchw);
        if (be.imageLayout() == ImageLayout.NCHW || c == 1 || hw == 1) return b;
        Buffer out = be.allocateBf16(nchw.length);
        be.toImageLayout(n, c, hw, b, out);
        return out;
    }

    private static float[] nchwOf(CudaBackend be, Buffer b, int n, int c, int hw) {
        if (be.imageLayout() == ImageLayout.NCHW || c == 1 || hw == 1) return get(be, b);
        Buffer out = be.allocateBf16(b.length());
        be.fromImageLayout(n, c, hw, b, out);
        return get(be, out);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"nchw", "nhwc"})
    void convolutionPoolingAndBatchNormMatchTheEmulation(String layout) {
        CudaBackend be = layout.equals("nhwc") ? nhwc : cuda;
        int n = 2;
        ConvGeom g = new ConvGeom(3, 7, 6, 5, 3, 3, 1, 1);
        int inHw = g.inH() * g.inW(), outHw = g.outH() * g.outW();
        float[] x = values(n * g.inSize(), 8, -1, 1), w = values(g.weightSize(), 9, -0.5, 0.5), bias = values(g.outC(), 10, -1, 1),
                dy = values(n * g.outSize(), 11, -1, 1);
        Buffer gx = image(be, x, n, g.inC(), inHw), gw = bf16(be, w), gbias = bf16(be, bias), gdy = image(be, dy, n, g.outC(), outHw);
        Buffer gy = be.allocateBf16((long) n * g.outSize()), gdx = be.allocateBf16((long) n * g.inSize()), gdw = be.allocate(g.weightSize()),
                gdb = be.allocate(g.outC()), ws = be.allocate(Math.max(1, be.convWorkspaceSize(g, n)));
        Buffer rx = refOf(x), rw = refOf(w), ry = ref.allocate((long) n * g.outSize()), rdx = ref.allocate((long) n * g.inSize()),
                rdw = ref.allocate(g.weightSize()), rdb = ref.allocate(g.outC()), rws = ref.allocate(Math.max(1, ref.convWorkspaceSize(g, n)));
        // forward without bias: bf16(conv); with it: bf16(bf16(conv) + bias), the bias added after cuDNN's rounding
        be.convForward(g, n, gx, gw, null, gy, ws);
        ref.convForward(g, n, rx, rw, null, ry, rws);
        float[] conv = getRef(ry);
        closeToRounded(layout + " conv forward", conv, nchwOf(be, gy, n, g.outC(), outHw));
        // a filter that is not 16-byte aligned (a shadow slice at an odd parameter offset) is copied aligned first:
        // the same result
        float[] padded = new float[3 + w.length];
        System.arraycopy(w, 0, padded, 3, w.length);
        Buffer odd = bf16(be, padded).slice(3, w.length);
        float[] aligned = get(be, gy);
        be.convForward(g, n, gx, odd, null, gy, ws);
        bitForBit(layout + " conv forward, unaligned filter", aligned, get(be, gy));
        be.convForward(g, n, gx, gw, gbias, gy, ws);
        float[] withBias = new float[conv.length];
        for (int i = 0; i < conv.length; i++) withBias[i] = (float) ((double) bf(conv[i]) + bias[(i / outHw) % g.outC()]);
        closeToRounded(layout + " conv forward with bias", withBias, nchwOf(be, gy, n, g.outC(), outHw));
        be.convBackwardData(g, n, gdy, gw, gdx, ws);
        ref.convBackwardData(g, n, refOf(dy), rw, rdx, rws);
        closeToRounded(layout + " conv backward data", getRef(rdx), nchwOf(be, gdx, n, g.inC(), inHw));
        // the weight gradient: computed in bf16 by cuDNN (rounded), widened into the fp32 arena, in [outC, inC, k, k]
        be.convBackwardFilter(g, n, gx, gdy, gdw, gdb, ws);
        ref.convBackwardFilter(g, n, rx, refOf(dy), rdw, rdb, rws);
        closeToRounded(layout + " conv backward filter", getRef(rdw), get(be, gdw));
        float[] dbw = getRef(rdb), dbg = get(be, gdb);
        for (int i = 0; i < dbw.length; i++) assertEquals(dbw[i], dbg[i], 1e-5 * (1 + Math.abs(dbw[i])), layout + " conv bias gradient " + i);
        // bf16 shapes' algorithms are keyed as such (a --deterministic resume takes them back, and only for bf16)
        String chosen = be.convolutionAlgorithms();
        assertTrue(chosen.contains(layout.equals("nhwc") ? "/nhwc/bf16=" : "/1/bf16="), chosen);
        be.reuseConvolutionAlgorithms(chosen);
        be.convForward(g, n, gx, gw, null, gy, ws);
        assertTrue(be.convolutionAlgorithmsNotReused().isEmpty(), be.convolutionAlgorithmsNotReused().toString());
        be.reuseConvolutionAlgorithms("");

        // max pooling (exact: a maximum of bf16 values) and global average pooling
        PoolGeom pg = new PoolGeom(g.outC(), g.outH(), g.outW(), 2, 2, 0);
        float[] yv = nchwOf(be, gy, n, g.outC(), outHw);
        Buffer py = be.allocateBf16((long) n * pg.outSize()), rpy = ref.allocate((long) n * pg.outSize());
        be.maxPoolForward(pg, n, gy, py);
        ref.maxPoolForward(pg, n, refOf(yv), rpy);
        bitForBit(layout + " max pool", getRef(rpy), nchwOf(be, py, n, pg.channels(), pg.outH() * pg.outW()));
        Buffer gap = be.allocateBf16((long) n * g.outC()), rgap = ref.allocate((long) n * g.outC());
        be.globalAvgPoolForward(n, g.outC(), outHw, gy, gap);
        ref.globalAvgPoolForward(n, g.outC(), outHw, refOf(yv), rgap);
        closeToRounded(layout + " global average pool", getRef(rgap), get(be, gap));

        // batch norm on bf16 images with fp32 scale, shift and statistics
        int c = g.outC();
        float[] gamma = values(c, 12, 0.5, 1.5), beta = values(c, 13, -0.5, 0.5);
        Buffer gg = f32(be, gamma), gbeta = f32(be, beta), rm = be.allocate(c), rv = f32(be, new float[] {1, 1, 1, 1, 1}), sm = be.allocate(c),
                si = be.allocate(c), by = be.allocateBf16((long) n * g.outSize());
        Buffer rrm = ref.allocate(c), rrv = refOf(new float[] {1, 1, 1, 1, 1}), rsm = ref.allocate(c), rsi = ref.allocate(c),
                rby = ref.allocate((long) n * g.outSize());
        be.batchNormForwardTraining(n, c, outHw, gy, gg, gbeta, by, rm, rv, 0.1, 1e-5, true, sm, si);
        ref.batchNormForwardTraining(n, c, outHw, refOf(yv), refOf(gamma), refOf(beta), rby, rrm, rrv, 0.1, 1e-5, true, rsm, rsi);
        closeToRounded(layout + " batch norm", getRef(rby), nchwOf(be, by, n, c, outHw));
        float[] mw = getRef(rsm), mg = get(be, sm);
        for (int i = 0; i < c; i++) assertEquals(mw[i], mg[i], 1e-5, layout + " batch norm saved mean " + i);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> be.batchNormForwardTraining(n, c, outHw, gy, gy.slice(0, c), gbeta, by, rm, rv, 0.1, 1e-5, true, sm, si));
        assertTrue(e.getMessage().contains("float"), e.getMessage());
    }
}
