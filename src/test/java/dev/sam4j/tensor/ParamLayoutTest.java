package dev.sam4j.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class ParamLayoutTest {
    @Test
    void offsetsAreContiguousInDeclarationOrder() {
        ParamLayout.Builder b = new ParamLayout.Builder();
        b.add("a.weight", Shape.of(3, 4), Role.WEIGHT);
        b.add("a.bias", Shape.of(3), Role.BIAS);
        b.add("b.weight", Shape.of(2, 3, 3, 3), Role.WEIGHT);
        ParamLayout l = b.build();
        assertEquals(0, l.get("a.weight").offset());
        assertEquals(12, l.get("a.bias").offset());
        assertEquals(15, l.get("b.weight").offset());
        assertEquals(15 + 54, l.total());
        assertThrows(IllegalArgumentException.class, () -> l.get("missing"));
    }

    @Test
    void duplicateNamesAreRejected() {
        ParamLayout.Builder b = new ParamLayout.Builder();
        b.add("x", Shape.of(1), Role.BIAS);
        b.add("x", Shape.of(1), Role.BIAS);
        assertThrows(IllegalStateException.class, b::build);
    }

    @Test
    void shapeRejectsNegativeDimsAndCountsElements() {
        assertEquals(24, Shape.of(2, 3, 4).size());
        assertEquals(Shape.of(5, 2, 3), Shape.of(2, 3).withBatch(5));
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
    }
}
