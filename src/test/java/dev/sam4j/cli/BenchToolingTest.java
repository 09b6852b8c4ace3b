package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.io.JsonReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark tooling produces well-formed output on a tiny configuration: {@code sam4j bench} lines,
 * and {@code sam4j bench-report}'s JSON, markdown, CSV and plots from them and from PyTorch-peer lines.
 * Nothing here judges speed; timings on a test machine mean nothing.
 */
class BenchToolingTest {
    static final List<String> METHODS = List.of("erm", "sam", "asam", "sssam", "looksam", "aesam", "aelooksam");

    static List<Map<String, Object>> parseLines(String out) {
        return out.lines().filter(l -> l.startsWith("{")).map(l -> JsonReader.parseObject(l, "bench output")).toList();
    }

    private static MainTest.Outcome tiny;

    /**
     * One tiny run shared by the tests. The scalar reference backend, because a handful of steps never
     * gets the Vector API kernels compiled, and interpreted they take seconds; the tooling is the same.
     */
    static synchronized MainTest.Outcome tinyBench() {
        if (tiny == null) {
            tiny = MainTest.run("bench", "--device", "cpu-reference", "--threads", "1", "--models", "mlp:8", "--input", "1,4,4",
                    "--batch-sizes", "4,8", "--warmup", "1", "--steps", "4", "--optimizers", String.join(",", METHODS));
        }
        return tiny;
    }

    @Test
    void benchWritesOneCompleteLinePerModelMethodAndBatch() {
        MainTest.Outcome o = tinyBench();
        assertEquals(0, o.code(), o.err());
        List<Map<String, Object>> lines = parseLines(o.out());
        assertEquals(2 * METHODS.size(), lines.size(), o.out());
        for (Map<String, Object> l : lines) {
            assertEquals("sam4j", l.get("impl"));
            assertEquals("mlp:8", l.get("model"));
            assertTrue(METHODS.contains(l.get("optimizer")), l.toString());
            for (String k : List.of("median_ms", "p90_ms", "mean_ms", "images_per_second", "vs_erm_mean", "params")) {
                assertTrue(((Number) l.get(k)).doubleValue() > 0, k + " in " + l);
            }
            double f = ((Number) l.get("sam_fraction")).doubleValue();
            assertTrue(f >= 0 && f <= 1, l.toString());
            assertTrue(((Number) l.get("heap_mb")).doubleValue() >= 0, l.toString());
            if (l.get("optimizer").equals("erm")) assertEquals(1.0, ((Number) l.get("vs_erm_mean")).doubleValue(), 1e-12);
            if (l.get("optimizer").equals("sam")) assertEquals(1.0, f);
        }
    }

    @Test
    void reportMergesBothImplementationsIntoJsonMarkdownCsvAndPlots(@TempDir Path dir) throws IOException {
        MainTest.Outcome bench = tinyBench();
        assertEquals(0, bench.code(), bench.err());
        Path ours = dir.resolve("sam4j.jsonl"), peer = dir.resolve("pytorch.jsonl");
        Files.writeString(ours, "progress lines are skipped\n" + bench.out());
        // What the peer writes, including a null where a method took no SAM-path step; one model only at batch 4.
        StringBuilder p = new StringBuilder();
        for (String m : METHODS) {
            p.append("{\"impl\": \"pytorch\", \"model\": \"mlp:8\", \"optimizer\": \"").append(m).append("\", \"batch\": 4, ")
                    .append("\"median_ms\": 2.0, \"p90_ms\": 3.0, \"mean_ms\": 2.5, \"sam_fraction\": 0.0, \"median_sam_path_ms\": null, ")
                    .append("\"vs_erm_mean\": 1.0, \"params\": 218}\n");
        }
        Files.writeString(peer, p.toString());
        Path json = dir.resolve("r.json"), md = dir.resolve("r.md"), csv = dir.resolve("r.csv"), plot = dir.resolve("plots/r");
        MainTest.Outcome o = MainTest.run("bench-report", "--meta", "device=cpu", "--meta", "note=a=b", "--json", json.toString(),
                "--markdown", md.toString(), "--csv", csv.toString(), "--plot", plot.toString(), ours.toString(), peer.toString());
        assertEquals(0, o.code(), o.err());

        Map<String, Object> doc = JsonReader.parseObject(Files.readString(json), json.toString());
        assertEquals(Map.of("device", "cpu", "note", "a=b"), doc.get("meta"));
        List<?> rows = (List<?>) doc.get("rows");
        assertEquals(2 * METHODS.size(), rows.size());
        int paired = 0;
        for (Object r : rows) {
            Map<?, ?> row = (Map<?, ?>) r;
            assertNotNull(row.get("sam4j"), row.toString());
            if (row.get("pytorch") != null) {
                paired++;
                assertEquals(4, ((Number) row.get("batch")).intValue());
                double ratio = ((Number) row.get("sam4j_over_pytorch_mean")).doubleValue();
                assertEquals(((Number) ((Map<?, ?>) row.get("sam4j")).get("mean_ms")).doubleValue() / 2.5, ratio, 1e-9);
            } else {
                assertNull(row.get("sam4j_over_pytorch_mean"), "no ratio without a peer: " + row);
            }
        }
        assertEquals(METHODS.size(), paired);
        assertEquals(2, ((List<?>) doc.get("ae_sam_checks")).size(), "one AE-SAM check per batch size");

        String text = Files.readString(md);
        assertEquals(text, o.out(), "the markdown is also printed");
        List<String> table = text.lines().filter(l -> l.startsWith("|")).toList();
        assertEquals(2 * (2 + METHODS.size()), table.size(), text);
        long columns = table.get(0).chars().filter(c -> c == '|').count();
        for (String l : table) assertEquals(columns, l.chars().filter(c -> c == '|').count(), "ragged table row: " + l);
        assertTrue(text.contains("- device: cpu"), text);
        assertTrue(text.contains("AE-SAM, `mlp:8` batch 4"), text);

        List<String> csvLines = Files.readAllLines(csv);
        assertEquals(1 + 2 * METHODS.size(), csvLines.size());
        int fields = csvLines.get(0).split(",", -1).length;
        for (String l : csvLines) assertEquals(fields, l.split(",", -1).length, "ragged CSV line: " + l);

        for (String suffix : List.of("-time.png", "-memory.png")) {
            byte[] png = Files.readAllBytes(Path.of(plot + suffix));
            assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', suffix);
        }
    }

    @Test
    void reportRejectsLinesItCannotPlace(@TempDir Path dir) throws IOException {
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"impl\": \"sam4j\", \"model\": \"mlp\"}\n");
        MainTest.assertOneLineError(MainTest.run("bench-report", bad.toString()), "without impl, model, optimizer or batch");
        Files.writeString(bad, "{\"impl\": \"sam4j\", \"model\": NaN}\n");
        MainTest.assertOneLineError(MainTest.run("bench-report", bad.toString()), "bad.jsonl line 1");
        MainTest.assertOneLineError(MainTest.run("bench-report", dir.resolve("missing").toString()), "no such file");
    }

    @Test
    void parserReadsWhatJsonWrites() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("s", "a \"q\" \\ \n é");
        m.put("n", 1.5e-3);
        m.put("i", 42);
        m.put("nan", Double.NaN);
        m.put("l", List.of(true, false, "x"));
        m.put("o", Map.of("k", -2.0));
        Map<String, Object> back = JsonReader.parseObject(dev.sam4j.io.Json.pretty(m), "pretty");
        assertEquals("a \"q\" \\ \n é", back.get("s"));
        assertEquals(1.5e-3, back.get("n"));
        assertEquals(42L, back.get("i"));   // integral numbers read back as Long
        assertNull(back.get("nan"));
        assertTrue(back.containsKey("nan"));
        assertEquals(List.of(true, false, "x"), back.get("l"));
        assertEquals(Map.of("k", -2.0), back.get("o"));
        for (String bad : List.of("{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "{\"a\": 1} x", "\"open", "{\"a\": NaN}")) {
            assertThrows(dev.sam4j.io.FileFormatException.class, () -> JsonReader.parse(bad, "bad"), bad);
        }
    }

    /**
     * The first of {@code $PYTHON}, {@code python3} on the PATH and {@code /usr/bin/python3} that imports torch
     * (as scripts/bench does: the first python3 on the PATH may be a separate install without it), or null.
     */
    static String pythonWithTorch() throws InterruptedException {
        java.util.LinkedHashSet<String> candidates = new java.util.LinkedHashSet<>();
        if (System.getenv("PYTHON") != null) candidates.add(System.getenv("PYTHON"));
        candidates.add("python3");
        candidates.add("/usr/bin/python3");
        for (String py : candidates) {
            try {
                Process probe = new ProcessBuilder(py, "-c", "import torch").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                if (probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0) return py;
                probe.destroyForcibly();
            } catch (IOException e) {
                // not installed: try the next
            }
        }
        return null;
    }

    /**
     * The peer's device configurations (bf16 autocast, channels_last, torch.compile with stand-ins for it, TF32 and
     * CUDA graphs unavailable on the CPU, a compile failure or time-out reported, not fatal) and precision_report.py's
     * choice of PyTorch's fastest configuration per precision: scripts/peers/test_peers.py, on the CPU.
     */
    @Test
    void peerDeviceConfigurationsAndPrecisionReport() throws Exception {
        Path tests = Path.of("scripts/peers/test_peers.py").toAbsolutePath();
        assumeTrue(Files.isRegularFile(tests), "run from the project root");
        String py = pythonWithTorch();
        assumeTrue(py != null, "no python with torch ($PYTHON, python3 on PATH, /usr/bin/python3)");
        Process p = new ProcessBuilder(py, tests.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "peer tests timed out");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("OK"), out);
    }

    /** The PyTorch peer's lines are what the report reads (skipped where python3 with torch is missing). */
    @Test
    void pytorchPeerLinesAreReadable(@TempDir Path dir) throws Exception {
        Path peer = Path.of("scripts/peers/pytorch_sam.py").toAbsolutePath();
        assumeTrue(Files.isRegularFile(peer), "run from the project root");
        String py = pythonWithTorch();
        assumeTrue(py != null, "no python with torch ($PYTHON, python3 on PATH, /usr/bin/python3)");
        Path out = dir.resolve("peer.jsonl");
        Process p = new ProcessBuilder(py, peer.toString(), "--models", "mlp:8,cnn", "--input", "1,4,4", "--batch-size", "4",
                "--warmup", "1", "--steps", "3", "--threads", "1", "--trial-steps", "2", "--optimizers", String.join(",", METHODS))
                .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "peer timed out");
        assertEquals(0, p.exitValue());
        List<Map<String, Object>> lines = parseLines(Files.readString(out));
        assertEquals(2 * METHODS.size(), lines.size());
        for (Map<String, Object> l : lines) {
            assertEquals("pytorch", l.get("impl"));
            assertTrue(((Number) l.get("mean_ms")).doubleValue() > 0, l.toString());
            // the configuration the trial chose is named, and it is one of those tried
            assertTrue(((Map<?, ?>) l.get("trial_ms")).containsKey(l.get("peer_config")), l.toString());
            // and the device configuration: fp32 eager NCHW unless --precision / --configs ask for more
            assertEquals("fp32:nchw:none", l.get("config"), l.toString());
            assertEquals(Boolean.TRUE, l.get("available"), l.toString());
        }
        // Same architectures: the parameter counts match sam4j's models.
        // (JsonReader reads integral numbers as Long: compare as long; the double comparison here had never run
        // where python3 on the PATH lacks torch)
        assertEquals((long) dev.sam4j.nn.models.Models.paramCount("mlp:8", dev.sam4j.tensor.Shape.of(1, 4, 4), 10),
                ((Number) lines.get(0).get("params")).longValue());
        assertEquals((long) dev.sam4j.nn.models.Models.paramCount("cnn", dev.sam4j.tensor.Shape.of(1, 4, 4), 10),
                ((Number) lines.get(METHODS.size()).get("params")).longValue());
    }

    /**
     * Every method benches (ESAM too: the benchmark uses the trainer's closure, whose per-example losses its data
     * selection needs; before, {@code --optimizers esam} ended in an error), each line on the host-driven step.
     */
    @Test
    void everyMethodBenchesOnTheCpu() {
        String all = "erm,sam,asam,esam,sssam,looksam,aesam,aelooksam,msam";
        MainTest.Outcome o = MainTest.run("bench", "--device", "cpu-reference", "--threads", "1", "--models", "mlp:8", "--input",
                "1,4,4", "--batch-size", "8", "--warmup", "1", "--steps", "3", "--optimizers", all);
        assertEquals(0, o.code(), o.err());
        List<Map<String, Object>> lines = parseLines(o.out());
        assertEquals(List.of(all.split(",")), lines.stream().map(l -> l.get("optimizer")).toList(), o.out());
        for (Map<String, Object> l : lines) assertEquals("host", l.get("step_path"), l.toString());
        assertEquals(1.0, ((Number) lines.get(3).get("sam_fraction")).doubleValue(), "ESAM takes its SAM step every time");
    }
}
