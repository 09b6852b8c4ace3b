package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EmbeddedSampleTest {
    @Test
    void loadsFromTheClassPath() {
        DataSplit s = FashionMnist.embeddedSample("");
        assertEquals(2000, s.train().size());
        assertEquals(1000, s.test().size());
        assertEquals(10, s.train().classes());
        assertEquals(Shape.of(1, 28, 28), s.train().exampleShape());
        assertEquals(Shape.of(1, 28, 28), s.test().exampleShape());
        for (int c : s.train().classCounts()) assertTrue(c > 150, Arrays.toString(s.train().classCounts()));
        assertEquals("data: fashion-mnist embedded sample (2000 train / 1000 test)", s.description());
        assertNotNull(FashionMnist.class.getResource(FashionMnist.SAMPLE_RESOURCE_DIR + "LICENSE"));
        assertNotNull(FashionMnist.class.getResource(FashionMnist.SAMPLE_RESOURCE_DIR + "README.md"));
    }

    /** The committed sample is exactly what {@link MakeFashionMnistSample} makes from the installed full set. */
    @Test
    void isThePrefixOfTheInstalledFullSet() {
        assumeTrue(FashionMnist.isInstalled(FashionMnist.SYSTEM_DIR), "full Fashion-MNIST not installed in " + FashionMnist.SYSTEM_DIR);
        DataSplit full = FashionMnist.readFull(FashionMnist.SYSTEM_DIR);
        assertEquals(60000, full.train().size());
        assertEquals(10000, full.test().size());
        assertTrue(full.description().contains("full set from " + FashionMnist.SYSTEM_DIR + " (60000 train / 10000 test)"), full.description());
        DataSplit sample = FashionMnist.embeddedSample("");
        for (Dataset[] pair : new Dataset[][] {{full.train(), sample.train()}, {full.test(), sample.test()}}) {
            Dataset prefix = MakeFashionMnistSample.prefix(pair[0], pair[1].size());
            assertArrayEquals(prefix.pixels(), pair[1].pixels());
            assertArrayEquals(prefix.labels(), pair[1].labels());
        }
    }
}
