package dev.sam4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeElement;
import java.lang.classfile.MethodModel;
import java.lang.classfile.attribute.CodeAttribute;
import java.lang.classfile.instruction.ConstantInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import org.junit.jupiter.api.Test;

/**
 * Reads the compiled classes of {@code dev.sam4j.backend.cpu} and fails if any calls a Vector API
 * operation that moves lanes between shapes or positions. Why: C2 intrinsifies such operations only for
 * some shapes and lane counts; where it does not, the operation runs the Java fallback, which boxes
 * vectors and allocates on every call. The case found: an expanding {@code convertShape(F2D, D, part)}
 * from a full-width float vector (parts 0 and 1 of a vector twice as wide in bits as each part) ran
 * intrinsified at 256 bits and allocated per call at 512 bits, which the allocation test can only see on
 * a machine with AVX-512. A scan of the bytecode holds every width to the rule on every machine.
 *
 * <p>Forbidden: {@code rearrange}, {@code slice}, {@code unslice}, {@code selectFrom}, {@code expand},
 * {@code compress}, {@code reinterpretShape}, {@code castShape}, {@code convert} (same-shape conversion,
 * which changes the lane count and so is part-numbered), {@code toShuffle}, shuffle creation, and
 * {@code convertShape} unless its {@code part} argument is the constant 0 (the lane-for-lane conversion
 * between species with equal lane counts; that the species used by the backend do have equal lane
 * counts at every width is checked by {@link #halfWidthFloatsMatchTheDoubleLanes}).
 */
class VectorShapeGuardTest {

    private static final String VECTOR_PACKAGE = "jdk/incubator/vector/";
    private static final Set<String> FORBIDDEN = Set.of("rearrange", "slice", "unslice", "selectFrom", "expand",
            "compress", "reinterpretShape", "castShape", "convert", "toShuffle", "shuffleFromArray", "shuffleFromValues",
            "shuffleFromOp", "iotaShuffle");

    /** Every forbidden call in one class file, as {@code Class.method: call} lines. */
    static List<String> violations(byte[] classBytes) {
        ClassModel cm = ClassFile.of().parse(classBytes);
        List<String> out = new ArrayList<>();
        for (MethodModel m : cm.methods()) {
            CodeAttribute code = m.findAttribute(java.lang.classfile.Attributes.code()).orElse(null);
            if (code == null) continue;
            CodeElement previous = null;
            for (CodeElement e : code.elementList()) {
                if (e instanceof InvokeInstruction inv) {
                    String owner = inv.owner().asInternalName(), name = inv.name().stringValue();
                    if (owner.startsWith(VECTOR_PACKAGE)) {
                        String where = cm.thisClass().asInternalName() + "." + m.methodName().stringValue() + ": "
                                + owner.substring(VECTOR_PACKAGE.length()) + "." + name;
                        if (FORBIDDEN.contains(name)) out.add(where);
                        else if (name.equals("convertShape") && !isConstantZero(previous)) out.add(where + " (part not constant 0)");
                    }
                }
                if (e instanceof java.lang.classfile.Instruction) previous = e;
            }
        }
        return out;
    }

    /** The instruction that pushed the last argument ({@code part}) was {@code iconst_0}. */
    private static boolean isConstantZero(CodeElement e) {
        return e instanceof ConstantInstruction c && c.constantValue() instanceof Integer i && i == 0;
    }

    private static byte[] bytesOf(Class<?> c) throws IOException {
        try (InputStream in = c.getResourceAsStream(c.getName().substring(c.getName().lastIndexOf('.') + 1) + ".class")) {
            return in.readAllBytes();
        }
    }

    @Test
    void backendCpuMovesNoLanesBetweenShapes() throws IOException, URISyntaxException {
        Path dir = Path.of(VectorOps.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve("dev/sam4j/backend/cpu");
        List<String> found = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
                found.addAll(violations(Files.readAllBytes(p)));
                scanned++;
            }
        }
        assertTrue(scanned >= 8, "scanned only " + scanned + " class files in " + dir);
        assertEquals(List.of(), found, "lane-moving Vector API calls in backend.cpu (not intrinsified at every width)");
    }

    /** The scanner itself finds planted violations (so that the test above cannot pass by seeing nothing). */
    @Test
    void scannerFindsPlantedViolations() throws IOException {
        List<String> found = violations(bytesOf(Planted.class));
        assertEquals(3, found.size(), String.join("\n", found));
        assertTrue(found.get(0).contains("expanding") && found.get(0).contains("convertShape (part not constant 0)"), found.get(0));
        assertTrue(found.stream().anyMatch(s -> s.contains("rearrange")), found.toString());
        assertTrue(found.stream().anyMatch(s -> s.contains("slice")), found.toString());
        assertEquals(List.of(), violations(bytesOf(Allowed.class)));
    }

    /** The half-width float species converts lane for lane into the double species, at the width in use. */
    @Test
    void halfWidthFloatsMatchTheDoubleLanes() {
        assertEquals(VectorOps.D.length(), VectorOps.H.length());
        assertEquals(2 * VectorOps.H.length(), VectorOps.L);
        assertEquals(VectorOps.F.vectorBitSize(), VectorOps.D.vectorBitSize());
    }

    /** Test fixture, never run: the pattern that allocated at 512 bits, and two lane moves. */
    static final class Planted {
        static double expanding(float[] x) {
            FloatVector v = FloatVector.fromArray(FloatVector.SPECIES_256, x, 0);
            DoubleVector hi = (DoubleVector) v.convertShape(VectorOperators.F2D, DoubleVector.SPECIES_256, 1);
            return hi.lane(0);
        }

        static float shuffles(float[] x) {
            FloatVector v = FloatVector.fromArray(FloatVector.SPECIES_256, x, 0);
            return v.rearrange(VectorShuffle.iota(FloatVector.SPECIES_256, 1, 1, true)).slice(1).lane(0);
        }
    }

    /** Test fixture, never run: lane-for-lane conversion, which the scanner allows. */
    static final class Allowed {
        static double laneForLane(float[] x) {
            FloatVector v = FloatVector.fromArray(FloatVector.SPECIES_128, x, 0);
            return ((DoubleVector) v.convertShape(VectorOperators.F2D, DoubleVector.SPECIES_256, 0)).lane(0);
        }
    }
}
