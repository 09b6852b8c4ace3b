package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backends;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The consumer's side, without a nested Maven build: the README's library snippets (read from README.md
 * between their markers, so the two cannot drift) compile as printed against the library's own classes
 * alone, with no picocli, XChart or JavaCPP on the class path, and all but the Fashion-MNIST one run there; the
 * published pom (the build writes no reduced pom, so it is pom.xml) passes no dependency on to a project
 * that depends on sam4j; the README's coordinates and GPU dependency versions are the pom's.
 */
class LibraryUseTest {
    static final Path README = Path.of("README.md"), POM = Path.of("pom.xml");

    /** The fenced block that follows {@code <!-- sam4j-snippet: name -->} in the README. */
    static String snippet(String name) throws Exception {
        String text = Files.readString(README);
        Matcher m = Pattern.compile("<!-- sam4j-snippet: " + Pattern.quote(name) + " -->\\n```\\w+\\n(.*?)\\n```", Pattern.DOTALL).matcher(text);
        assertTrue(m.find(), "README.md has no snippet '" + name + "' (marker followed by a fenced block)");
        return m.group(1);
    }

    /** The library's classes: the directory (or jar) Backends was loaded from, and nothing else. */
    static Path libraryClasses() throws Exception {
        return Path.of(Backends.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    @Test
    void readmeSnippetsCompileAgainstTheLibraryAloneAndRun(@TempDir Path tmp) throws Exception {
        String source = snippet("imports") + "\n\n"
                + "public class Snippets {\n"
                + "    static final long totalSteps = 3;\n"
                + "    static float[] myImages(long t) {\n"
                + "        java.util.SplittableRandom r = new java.util.SplittableRandom(t);\n"
                + "        float[] x = new float[128 * 784];\n"
                + "        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();\n"
                + "        return x;\n"
                + "    }\n"
                + "    static float[] myLabels(long t) {\n"
                + "        float[] y = new float[128];\n"
                + "        for (int i = 0; i < y.length; i++) y[i] = (i + t) % 10;\n"
                + "        return y;\n"
                + "    }\n"
                + "    static float[] images(int n, long seed) {\n"
                + "        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);\n"
                + "        float[] x = new float[n * 784];\n"
                + "        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();\n"
                + "        return x;\n"
                + "    }\n"
                + "    static int[] labels(int n) {\n"
                + "        int[] y = new int[n];\n"
                + "        for (int i = 0; i < n; i++) y[i] = i % 10;\n"
                + "        return y;\n"
                + "    }\n"
                + "    static final float[] trainImages = images(256, 1), testImages = images(64, 2), newImages = images(5, 3);\n"
                + "    static final int[] trainLabels = labels(256), testLabels = labels(64);\n"
                + "    static void trainer() throws Exception {\n" + snippet("trainer") + "\n    }\n"
                + "    static void ownLoop() throws Exception {\n" + snippet("own-loop") + "\n    }\n"
                + "    static void inMemory() throws Exception {\n" + snippet("in-memory") + "\n    }\n"
                + "    static void load() throws Exception {\n" + snippet("load") + "\n    }\n"
                + "    public static void main(String[] args) throws Exception {\n"
                + "        ownLoop();\n"
                + "        inMemory();\n"
                + "        if (!java.nio.file.Files.isRegularFile(Path.of(\"model.safetensors\"))) throw new AssertionError(\"no model saved\");\n"
                + "        load();\n"
                + "        System.out.println(\"snippets done\");\n"
                + "    }\n"
                + "}\n";
        Path src = tmp.resolve("src/Snippets.java"), out = tmp.resolve("classes");
        Files.createDirectories(src.getParent());
        Files.createDirectories(out);
        Files.writeString(src, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        // As a user compiles: the library on the class path, no flags (the Vector API is not in its signatures).
        boolean ok = javac.getTask(diagnostics, null, null, List.of("-classpath", libraryClasses().toString(), "-d", out.toString(),
                "-proc:none", "-Xlint:none"), null, javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)
                .getJavaFileObjects(src)).call();
        assertTrue(ok, "README snippets do not compile against the library alone:\n" + diagnostics + "\n" + source);

        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", libraryClasses() + java.io.File.pathSeparator + out, "Snippets");
        // In its own directory: the save/load snippets write model.safetensors where they run.
        Process p = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), output);
        assertEquals(0, p.exitValue(), output);
        // The JVM's own note on the incubator module is not the library's.
        String ours = output.lines().filter(l -> !l.equals("WARNING: Using incubator modules: jdk.incubator.vector"))
                .collect(java.util.stream.Collectors.joining("\n"));
        assertEquals("snippets done", ours.strip(), "the library prints nothing of its own");
    }

    private static String child(Element e, String tag) {
        NodeList l = e.getElementsByTagName(tag);
        for (int i = 0; i < l.getLength(); i++) if (l.item(i).getParentNode() == e) return l.item(i).getTextContent().trim();
        return null;
    }

    private static List<Element> children(Node parent, String tag) {
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element el && el.getTagName().equals(tag)) out.add(el);
        }
        return out;
    }

    @Test
    void thePublishedPomPassesOnNoDependency() throws Exception {
        Element project = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(POM.toFile()).getDocumentElement();
        List<Element> deps = new ArrayList<>();
        for (Element ds : children(project, "dependencies")) deps.addAll(children(ds, "dependency"));
        for (Element profiles : children(project, "profiles")) {
            for (Element profile : children(profiles, "profile")) {
                for (Element ds : children(profile, "dependencies")) deps.addAll(children(ds, "dependency"));
            }
        }
        Map<String, String> passedOn = new TreeMap<>(), optional = new TreeMap<>();
        for (Element d : deps) {
            String id = child(d, "groupId") + ":" + child(d, "artifactId") + (child(d, "classifier") == null ? "" : ":" + child(d, "classifier"));
            String scope = child(d, "scope") == null ? "compile" : child(d, "scope");
            boolean isOptional = "true".equals(child(d, "optional"));
            if (scope.equals("test") || scope.equals("provided")) continue;
            (isOptional ? optional : passedOn).put(id, scope);
        }
        assertEquals(Map.of(), passedOn, "dependencies a project depending on sam4j would get");
        for (String a : List.of("info.picocli:picocli", "org.knowm.xchart:xchart", "org.bytedeco:javacpp", "org.bytedeco:cuda")) {
            assertTrue(optional.containsKey(a), a + " is an optional dependency: " + optional.keySet());
        }
        assertTrue(children(project, "dependencyManagement").isEmpty(), "no dependencyManagement that could re-scope them");
        // The build writes no dependency-reduced pom, so the installed pom is this file.
        assertTrue(Files.readString(POM).contains("<createDependencyReducedPom>false</createDependencyReducedPom>"));
    }

    @Test
    void readmeCoordinatesAndGpuVersionsAreThePoms() throws Exception {
        Element project = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(POM.toFile()).getDocumentElement();
        String coords = snippet("coordinates");
        for (String tag : List.of("groupId", "artifactId", "version")) {
            assertTrue(coords.contains("<" + tag + ">" + child(project, tag) + "</" + tag + ">"), tag + " in README:\n" + coords);
        }
        Element props = children(project, "properties").getFirst();
        String readme = Files.readString(README);
        assertTrue(readme.contains("<artifactId>javacpp</artifactId><version>" + child(props, "javacpp.version") + "</version>"), "javacpp version");
        assertTrue(readme.contains("<artifactId>cuda</artifactId><version>" + child(props, "cuda.presets.version") + "</version>"), "cuda presets version");
    }
}
