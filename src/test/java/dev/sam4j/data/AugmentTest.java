package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AugmentTest {
    /**
     * The reference, written the slow literal way: build the zero-padded image, cut the window at
     * (oy, ox), then mirror it.
     */
    static int[] reference(int[] img, int c, int h, int w, int pad, int oy, int ox, boolean flip) {
        int ph = h + 2 * pad, pw = w + 2 * pad;
        int[] padded = new int[c * ph * pw];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) padded[(ch * ph + y + pad) * pw + x + pad] = img[(ch * h + y) * w + x];
        int[] out = new int[c * h * w];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int cx = flip ? w - 1 - x : x;
                    out[(ch * h + y) * w + x] = padded[(ch * ph + y + oy) * pw + cx + ox];
                }
        return out;
    }

    @Test
    void cropAndFlipMatchTheLiteralPadCropMirror() {
        int c = 2, h = 3, w = 4, pad = 1;
        int[] img = new int[c * h * w];
        byte[] src = new byte[img.length + 5];
        for (int i = 0; i < img.length; i++) { img[i] = 10 + i; src[5 + i] = (byte) img[i]; } // offset 5: srcOffset is honoured
        Normalization unit = Normalization.of(new double[] {0, 0}, new double[] {1 / 255.0, 1 / 255.0}); // maps v to v exactly
        // every (oy, ox, flip) must occur, and nothing else
        Map<String, Integer> seen = new HashMap<>();
        for (long r = 0; r < 3000; r++) {
            float[] dst = new float[c * h * w + 3];
            Augment.cropFlip(pad).write(src, 5, c, h, w, unit, dst, 3, Rng.hash(r));
            String match = null;
            for (int oy = 0; oy <= 2 * pad && match == null; oy++)
                for (int ox = 0; ox <= 2 * pad && match == null; ox++)
                    for (boolean flip : new boolean[] {false, true}) {
                        int[] ref = reference(img, c, h, w, pad, oy, ox, flip);
                        boolean same = true;
                        for (int i = 0; i < ref.length; i++) same &= dst[3 + i] == ref[i];
                        // crop offsets can collide only if the image were symmetric; this one is not
                        if (same) { match = oy + "," + ox + "," + flip; break; }
                    }
            assertNotNull(match, "output of random " + r + " is no padded crop/flip of the input");
            seen.merge(match, 1, Integer::sum);
            assertEquals(0f, dst[0]);
            assertEquals(0f, dst[2]);
        }
        assertEquals(18, seen.size(), seen.toString());
        for (int count : seen.values()) assertTrue(Math.abs(count - 3000 / 18.0) < 60, "roughly uniform: " + seen);
    }

    @Test
    void paddingIsBlackBeforeNormalisation() {
        byte[] src = {(byte) 200};
        Normalization n = Normalization.of(new double[] {0.5}, new double[] {0.25});
        float[] dst = new float[1];
        int black = 0, kept = 0;
        for (long r = 0; r < 200; r++) {
            Augment.cropFlip(1).write(src, 0, 1, 1, 1, n, dst, 0, Rng.hash(r));
            if (dst[0] == n.apply(0, 0)) black++;
            else if (dst[0] == n.apply(0, 200)) kept++;
            else fail("unexpected " + dst[0]);
        }
        assertEquals(-2f, n.apply(0, 0));
        assertTrue(black > 0 && kept > 0 && kept < black, black + " / " + kept); // 1 of 9 offsets keeps the pixel
    }

    @Test
    void noneOnlyNormalises() {
        Dataset d = Synthetic.generate(Shape.of(3, 4, 5), 2, 3, 1, 7).train();
        Normalization n = Normalization.fit(d);
        float[] dst = new float[d.exampleSize()];
        Augment.none().write(d.pixels(), d.exampleSize(), 3, 4, 5, n, dst, 0, 123);
        for (int p = 0; p < dst.length; p++) assertEquals(n.apply(p / 20, d.pixels()[d.exampleSize() + p] & 0xFF), dst[p]);
        assertThrows(IllegalArgumentException.class, () -> new Augment.CropFlip(-1, true));
    }
}
