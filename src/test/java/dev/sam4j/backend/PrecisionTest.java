package dev.sam4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The reference rounding ({@link Precision#round}) on hand-worked edge cases and against Java's own float cast. */
class PrecisionTest {

    private static float bits(int b) { return Float.intBitsToFloat(b); }

    private static void same(float expected, float actual, String what) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                what + ": expected " + expected + " (0x" + Integer.toHexString(Float.floatToRawIntBits(expected)) + "), got "
                        + actual + " (0x" + Integer.toHexString(Float.floatToRawIntBits(actual)) + ")");
    }

    @Test
    void bf16TiesGoToEven() {
        Precision p = Precision.BF16;
        same(1f, p.round(1f), "1");
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: the even neighbour (1) wins.
        same(1f, p.round(1f + 0x1p-8f), "tie down");
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        same(1f + 0x1p-6f, p.round(1f + 3 * 0x1p-8f), "tie up");
        same(1f + 0x1p-7f, p.round(1f + 0x1p-8f + 0x1p-20f), "above half");
        same(1f, p.round(1f + 0x1p-8f - 0x1p-23f), "below half");
        same(-1f - 0x1p-6f, p.round(-1f - 3 * 0x1p-8f), "negative tie");
        same(-0f, p.round(-0f), "negative zero");
    }

    @Test
    void bf16OverflowInfinityAndNaN() {
        Precision p = Precision.BF16;
        same(bits(0x7F7F0000), p.round(bits(0x7F7F0000)), "largest finite bf16");
        same(bits(0x7F7F0000), p.round(bits(0x7F7F7FFF)), "just below the midpoint to infinity");
        same(Float.POSITIVE_INFINITY, p.round(bits(0x7F7F8000)), "midpoint: the even neighbour is infinity");
        same(Float.POSITIVE_INFINITY, p.round(Float.MAX_VALUE), "fp32's largest finite");
        same(Float.NEGATIVE_INFINITY, p.round(-Float.MAX_VALUE), "negative overflow");
        same(Float.POSITIVE_INFINITY, p.round(Float.POSITIVE_INFINITY), "+inf");
        same(Float.NEGATIVE_INFINITY, p.round(Float.NEGATIVE_INFINITY), "-inf");
        assertTrue(Float.isNaN(p.round(Float.NaN)));
        // A NaN whose payload lies only in the dropped bits must stay NaN (a careless bit trick makes it infinity).
        assertTrue(Float.isNaN(p.round(bits(0x7F800001))));
        assertTrue(Float.isNaN(p.round(bits(0xFF800001))));
    }

    @Test
    void bf16Subnormals() {
        Precision p = Precision.BF16;
        // bf16's subnormals are spaced 2^-133 (7 bits below 2^-126).
        same(0f, p.round(Float.MIN_VALUE), "2^-149 rounds to 0");
        same(0f, p.round(0x1p-134f), "half the smallest subnormal: tie to even 0");
        same(0x1p-133f, p.round(0x1p-134f + Float.MIN_VALUE), "just above half");
        same(0x1p-132f, p.round(3 * 0x1p-134f), "tie between 2^-133 (odd) and 2^-132");
        same(Float.MIN_NORMAL, p.round(bits(0x007FFFFF)), "largest fp32 subnormal carries into the smallest normal");
        same(Float.MIN_NORMAL, p.round(Float.MIN_NORMAL), "smallest normal");
    }

    @Test
    void tf32() {
        Precision p = Precision.TF32;
        same(1f, p.round(1f + 0x1p-11f), "tie down");
        same(1f + 0x1p-9f, p.round(1f + 3 * 0x1p-11f), "tie up");
        same(1f + 0x1p-10f, p.round(1f + 0x1p-11f + 0x1p-23f), "above half");
        same(bits(0x7F7FE000), p.round(bits(0x7F7FEFFF)), "largest finite tf32");
        same(Float.POSITIVE_INFINITY, p.round(Float.MAX_VALUE), "overflow");
        same(0x1p-136f, p.round(0x1p-136f), "smallest tf32 subnormal");
        same(0f, p.round(0x1p-137f), "its half ties to 0");
        assertTrue(Float.isNaN(p.round(bits(0x7F800001))));
    }

    /** At 23 mantissa bits the formula is double → float rounding, which Java's cast does independently. */
    @Test
    void fp32RoundingOfDoublesIsTheFloatCast() {
        SplittableRandom r = new SplittableRandom(17);
        for (int i = 0; i < 200_000; i++) {
            double x = switch (i % 4) {
                case 0 -> r.nextGaussian();
                case 1 -> Double.longBitsToDouble(r.nextLong());
                case 2 -> r.nextGaussian() * 0x1p-140;   // fp32 subnormal range
                default -> r.nextGaussian() * 0x1p127;    // around overflow
            };
            double expected = (float) x;
            double actual = Precision.FP32.round(x);
            if (Double.isNaN(expected)) assertTrue(Double.isNaN(actual));
            else assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual), "x = " + x);
        }
    }

    /** Every result is in the format (low bits clear) and one of the two neighbours of the input. */
    @ParameterizedTest
    @CsvSource({"BF16, 16", "TF32, 13"})
    void resultsAreNeighboursInTheFormat(Precision p, int drop) {
        SplittableRandom r = new SplittableRandom(5);
        int mask = (1 << drop) - 1;
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            float y = p.round(x);
            if (Float.isNaN(x)) { assertTrue(Float.isNaN(y)); continue; }
            int b = Float.floatToRawIntBits(x), yb = Float.floatToRawIntBits(y);
            assertEquals(0, yb & mask, "low bits of " + y);
            int down = b & ~mask;          // toward zero
            int up = down + (1 << drop);   // away from zero (may be infinity)
            assertTrue(yb == down || yb == up, x + " rounded to " + y);
            int rest = b & mask, halfway = 1 << (drop - 1);
            if (rest < halfway) assertEquals(down, yb);
            if (rest > halfway) assertEquals(up, yb);
            if (rest == halfway) assertEquals(((down >>> drop) & 1) == 0 ? down : up, yb, "tie of " + x);
        }
    }

    @Test
    void parse() {
        assertEquals(Precision.BF16, Precision.parse(" BF16 "));
        assertEquals(Precision.FP32, Precision.parse("fp32"));
        assertEquals(Precision.TF32, Precision.parse("tf32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp16"));
        assertTrue(e.getMessage().contains("--precision") && e.getMessage().contains("fp16"), e.getMessage());
    }
}
