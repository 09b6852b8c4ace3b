package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.StandIn;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code sam4j bench --device cuda} times the CUDA graph step by default, as {@code sam4j train} takes it: each
 * method the graph step runs is timed there (ESAM, which it does not run, on the host-driven step), each line
 * says which ({@code step_path}), and {@code --cuda-step host} times the host-driven step for all. On the stand-ins
 * the two paths decide alike, so AE-SAM's SAM fraction is the same on both.
 */
@Tag("gpu")
class CudaBenchStepPathTest {

    private static List<Map<String, Object>> bench(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("bench", "--device", "cuda", "--models", "mlp:16", "--input", "1,6,6",
                "--classes", "4", "--batch-size", "8", "--warmup", "2", "--steps", "12", "--optimizers", "erm,sam,aesam,esam"));
        args.addAll(List.of(extra));
        MainTest.Outcome o = MainTest.run(args.toArray(String[]::new));
        assertEquals(0, o.code(), o.err());
        List<Map<String, Object>> lines = BenchToolingTest.parseLines(o.out());
        assertEquals(4, lines.size(), o.out());
        return lines;
    }

    private static Map<String, Object> line(List<Map<String, Object>> lines, String method) {
        return lines.stream().filter(l -> method.equals(l.get("optimizer"))).findFirst().orElseThrow();
    }

    @Test
    void theGraphStepIsTimedWhereTheMethodRunsOnIt() {
        CudaTestSupport.requireCuda();
        List<Map<String, Object>> graph = bench(), host = bench("--cuda-step", "host");
        for (String m : List.of("erm", "sam", "aesam")) assertEquals("graph", line(graph, m).get("step_path"), m);
        assertEquals("host", line(graph, "esam").get("step_path"), "ESAM is not on the graph step");
        for (Map<String, Object> l : host) assertEquals("host", l.get("step_path"), l.toString());
        for (List<Map<String, Object>> ls : List.of(graph, host)) {
            assertEquals(0.0, ((Number) line(ls, "erm").get("sam_fraction")).doubleValue());
            assertEquals(1.0, ((Number) line(ls, "sam").get("sam_fraction")).doubleValue());
            double ms = ((Number) line(ls, "sam").get("mean_ms")).doubleValue();
            assertTrue(ms > 0 && Double.isFinite(ms), ls.toString());
        }
        if (StandIn.active()) {
            assertEquals(line(host, "aesam").get("sam_fraction"), line(graph, "aesam").get("sam_fraction"),
                    "AE-SAM decides alike on the graph step (on the device) and the host-driven step");
        }
    }

    /** bf16 on the graph step: the captured step with the rounding kernels and the shadow-writing updates. */
    @Test
    void bf16IsTimedOnTheGraphStep() {
        CudaTestSupport.requireCuda();
        List<Map<String, Object>> lines = bench("--precision", "bf16");
        for (String m : List.of("erm", "sam", "aesam")) {
            assertEquals("graph", line(lines, m).get("step_path"), m);
            assertEquals("bf16", line(lines, m).get("precision"), m);
        }
    }

    /**
     * Channels-last on the graph step: a convnet benched with {@code --image-layout nhwc} says so in each line, and its
     * cuDNN algorithms are the NHWC shapes'; {@code sam4j train} with it records nhwc in its summary.
     */
    @Test
    void channelsLastIsBenchedAndTrainedOnTheGraphStep(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        CudaTestSupport.requireCuda();
        MainTest.Outcome o = MainTest.run("bench", "--device", "cuda", "--models", "cnn", "--input", "3,8,8", "--classes", "4",
                "--batch-size", "8", "--warmup", "1", "--steps", "3", "--optimizers", "erm,aesam", "--image-layout", "nhwc");
        assertEquals(0, o.code(), o.err());
        for (Map<String, Object> l : BenchToolingTest.parseLines(o.out())) {
            assertEquals("nhwc", l.get("image_layout"), l.toString());
            assertEquals("graph", l.get("step_path"), l.toString());
            assertTrue(((String) l.get("conv_algorithms")).contains("/nhwc="), l.toString());
            assertTrue(((String) l.get("backend_detail")).contains("NHWC"), l.toString());
        }
        MainTest.Outcome t = MainTest.run("train", "--data=synthetic:3,8,8:4:64:32", "--device=cuda", "--model=cnn", "--optimizer=aesam",
                "--batch-size=16", "--max-steps=4", "--epochs=1", "--image-layout=nhwc", "--out", dir.toString());
        assertEquals(0, t.code(), t.err());
        Map<?, ?> summary = (Map<?, ?>) dev.sam4j.io.JsonReader.parse(java.nio.file.Files.readString(dir.resolve("summary.json")), "summary");
        assertEquals("nhwc", summary.get("image_layout"));
        assertTrue(Double.isFinite(((Number) summary.get("test_accuracy")).doubleValue()), summary.toString());
    }

    /** On cuDNN each line also names the convolution algorithms chosen so far and the math type cuDNN reported for them. */
    @Test
    void aConvnetLineNamesItsConvolutionAlgorithmsAndMath() {
        CudaTestSupport.requireCuda();
        MainTest.Outcome o = MainTest.run("bench", "--device", "cuda", "--models", "cnn", "--input", "1,8,8", "--classes", "4",
                "--batch-size", "8", "--warmup", "1", "--steps", "2", "--precision", "tf32");
        assertEquals(0, o.code(), o.err());
        Map<String, Object> l = BenchToolingTest.parseLines(o.out()).get(0);
        String algos = (String) l.get("conv_algorithms"), math = (String) l.get("conv_math");
        assertTrue(algos != null && algos.startsWith("8/1,8,8/"), l.toString());
        assertEquals(algos.split(";").length, math.split(";").length, l.toString());
        if (StandIn.active()) assertTrue(math.contains("=default,default,default"), math);
    }

    @Test
    void aBadStepPathIsOneClearLine() {
        MainTest.assertOneLineError(MainTest.run("bench", "--device", "cpu-reference", "--cuda-step", "fast"), "--cuda-step");
    }
}
