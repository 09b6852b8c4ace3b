package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.optim.sam.Perturbation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The conventions of the SAM step and the AE statistic that exist three times — in Java (the host step and
 * {@link CudaBackend}'s scratch layout), in the CUDA kernels ({@code src/main/cuda}) and in the C stand-in
 * ({@code src/test/cuda-mock/driver.c}) — agree, read from the sources themselves: the ε of the perturbation scale
 * {@code ρ/(√s + ε)}, and the layout of the step's outcome record ({@code struct step_outcome}) that the decision
 * kernel writes and the host reads back at {@code CudaBackend.OUTCOME}. A change to one copy that is not made to
 * the others fails here instead of in a last-bit difference of a decision on a GPU.
 */
class SharedConventionsTest {
    static final Path DECIDE = Path.of("src/main/cuda/decide.cu"), SAM = Path.of("src/main/cuda/sam.cu"),
            STAND_IN = Path.of("src/test/cuda-mock/driver.c");

    /** A C source without its comments. */
    static String code(Path file) throws IOException {
        return Files.readString(file).replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
    }

    /** Every ε in an expression {@code sqrt(x) + ε} or {@code __dadd_rn(sqrt(x), ε)}. */
    static List<Double> epsilons(String code) {
        List<Double> out = new ArrayList<>();
        Matcher m = Pattern.compile("sqrt\\([^()]*\\)\\s*[,+]\\s*([0-9.]+[eE][-+]?[0-9]+)").matcher(code);
        while (m.find()) out.add(Double.parseDouble(m.group(1)));
        return out;
    }

    @Test
    void thePerturbationScalesEpsilonIsTheHostsEverywhere() throws IOException {
        for (Path f : List.of(DECIDE, SAM, STAND_IN)) {
            List<Double> eps = epsilons(code(f));
            assertFalse(eps.isEmpty(), f + ": no ρ/(√s + ε) found (has the expression changed form? then update this test)");
            for (double e : eps) assertEquals(Perturbation.EPS, e, 0.0, f + ": ε of the perturbation scale");
        }
    }

    record Field(String type, String name) {}

    /** The fields of the struct whose body follows {@code opening} in {@code code}, in order, types normalised. */
    static List<Field> fields(String code, String opening, Path file) {
        int i = code.indexOf(opening);
        assertTrue(i >= 0, file + ": no '" + opening + "'");
        int open = code.indexOf('{', i), close = code.indexOf('}', open);
        List<Field> out = new ArrayList<>();
        Pattern decl = Pattern.compile("(unsigned\\s+int|unsigned|long\\s+long|double|float|int)\\s+(.+)");
        for (String d : code.substring(open + 1, close).split(";")) {
            if (d.isBlank()) continue;
            Matcher m = decl.matcher(d.strip());
            assertTrue(m.matches(), file + ": a field of a type this test does not know: " + d.strip());
            String type = m.group(1).replaceAll("\\s+", " ").replace("unsigned int", "unsigned");
            for (String name : m.group(2).split(",")) out.add(new Field(type, name.strip()));
        }
        return out;
    }

    static int size(String type) {
        return switch (type) {
            case "double", "long long" -> 8;
            case "unsigned", "int", "float" -> 4;
            default -> throw new AssertionError(type);
        };
    }

    @Test
    void theStepOutcomeRecordHasOneLayout() throws IOException {
        List<Field> device = fields(code(DECIDE), "struct step_outcome", DECIDE);
        List<Field> standIn = fields(code(STAND_IN), "typedef struct {\n    double sam_loss", STAND_IN);
        assertEquals(device, standIn, "decide.cu's struct step_outcome and the stand-in's StepOutcome");
        long offset = 0;
        java.util.Map<String, Long> at = new java.util.HashMap<>();
        for (Field f : device) {
            int s = size(f.type());
            offset = (offset + s - 1) / s * s;   // natural alignment, as nvcc and gcc lay it out
            at.put(f.name(), offset);
            offset += s;
        }
        assertEquals(CudaBackend.SAM_LOSS - CudaBackend.OUTCOME, at.get("sam_loss"), "SAM_LOSS");
        assertEquals(CudaBackend.SAM_SUMSQ - CudaBackend.OUTCOME, at.get("sam_sumsq"), "SAM_SUMSQ");
        assertEquals(CudaBackend.DECISION_MU - CudaBackend.OUTCOME, at.get("mu"), "DECISION_MU");
        assertEquals(CudaBackend.SKIP - CudaBackend.OUTCOME, at.get("skipped"), "SKIP");
        assertEquals(CudaBackend.OUTCOME_BYTES, offset, "OUTCOME_BYTES");
    }
}
