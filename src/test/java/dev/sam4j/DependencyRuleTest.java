package dev.sam4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The README's dependency rule, checked on the compiled classes ({@code target/classes}) so that the picture
 * cannot drift from the code: {@code backend ← tensor ← nn ← optim ← train ← benchmark ← cli}, {@code data}
 * beside {@code train} (below it, above {@code tensor}), {@code io} and {@code plot} depending on nothing of the
 * project, {@code report} only on them; JavaCPP ({@code org.bytedeco}) only in {@code backend.cuda}, the Vector
 * API ({@code jdk.incubator.vector}) only in {@code backend.cpu}; and {@code backend.cuda} itself used only by
 * {@code backend} (which chooses the backend), so that no floor above tests for CUDA's types.
 *
 * <p>A class's dependencies are read from its constant pool (java.lang.classfile): every class it names, and every
 * type in its descriptors and generic signatures, which is what the compiler put there for each use (a call, a
 * field, a cast, a catch, a fully qualified name in the source, an annotation).
 */
class DependencyRuleTest {
    static final String PROJECT = "dev/sam4j/";

    /**
     * Which floors each floor may use (besides itself and its own subpackages). A floor is the first package
     * under {@code dev.sam4j}: {@code backend.cuda} is part of {@code backend}, {@code optim.sam} of {@code optim}.
     */
    static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("io", Set.of()),
            Map.entry("plot", Set.of()),
            Map.entry("backend", Set.of("io")),
            Map.entry("tensor", Set.of("backend", "io")),
            Map.entry("nn", Set.of("tensor", "backend", "io")),
            Map.entry("parallel", Set.of("backend")),
            Map.entry("optim", Set.of("nn", "tensor", "backend", "parallel", "io")),
            Map.entry("data", Set.of("tensor", "backend", "io")),
            Map.entry("train", Set.of("optim", "parallel", "nn", "tensor", "backend", "data", "io")),
            Map.entry("benchmark", Set.of("train", "optim", "parallel", "nn", "tensor", "backend", "data", "io", "plot")),
            Map.entry("report", Set.of("io", "plot")),
            Map.entry("cli", Set.of("benchmark", "report", "train", "optim", "parallel", "nn", "tensor", "backend", "data", "io", "plot")));

    /** Outside libraries that only one package may touch: package prefix → the one package (prefix) allowed. */
    static final Map<String, String> CONFINED = Map.of(
            "org/bytedeco/", PROJECT + "backend/cuda",
            "jdk/incubator/vector/", PROJECT + "backend/cpu");

    /**
     * Packages of the project that only the named packages may use besides themselves and their subpackages:
     * package → the packages (exactly these, not their subpackages) allowed. Only {@code backend.cuda} knows CUDA's
     * types; {@code Backends} in {@code backend} opens the CUDA backend, and everything else reaches it through
     * {@code Backend}'s capabilities (the device step graph among them), whatever floor it is on.
     */
    static final Map<String, Set<String>> SEALED = Map.of(
            PROJECT + "backend/cuda", Set.of(PROJECT + "backend"));

    private static final Pattern TYPE_IN_DESCRIPTOR = Pattern.compile("L([\\w/$]+)[;<]");

    /** Every class named by {@code cm}'s constant pool (internal names), arrays unwrapped. */
    static Set<String> referencedClasses(ClassModel cm) {
        Set<String> out = new TreeSet<>();
        for (PoolEntry e : cm.constantPool()) {
            if (e instanceof ClassEntry ce) {
                String n = ce.asInternalName();
                if (n.startsWith("[")) {
                    Matcher m = TYPE_IN_DESCRIPTOR.matcher(n);
                    while (m.find()) out.add(m.group(1));
                } else {
                    out.add(n);
                }
            } else if (e instanceof Utf8Entry u) {
                // Descriptors and signatures (also types a class uses only in a method's parameters or a generic
                // bound). A string constant that happens to look like "Ldev/sam4j/..;" would count too: harmless.
                Matcher m = TYPE_IN_DESCRIPTOR.matcher(u.stringValue());
                while (m.find()) out.add(m.group(1));
            }
        }
        return out;
    }

    static String packageOf(String internalName) {
        int i = internalName.lastIndexOf('/');
        return i < 0 ? "" : internalName.substring(0, i);
    }

    /** {@code dev/sam4j/optim/sam} → {@code optim}; null outside the project. */
    static String floorOf(String pkg) {
        if (!(pkg + "/").startsWith(PROJECT)) return null;
        String rest = pkg.length() <= PROJECT.length() ? "" : pkg.substring(PROJECT.length());
        int i = rest.indexOf('/');
        return i < 0 ? rest : rest.substring(0, i);
    }

    /** The rule's violations by the classes {@code classes} (class file bytes by path, for the messages). */
    static List<String> violations(Map<String, byte[]> classes) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> c : classes.entrySet()) {
            ClassModel cm = ClassFile.of().parse(c.getValue());
            String self = cm.thisClass().asInternalName(), pkg = packageOf(self), floor = floorOf(pkg);
            if (floor == null) {
                out.add(self + ": outside dev.sam4j");
                continue;
            }
            Set<String> allowed = ALLOWED.get(floor);
            if (allowed == null) {
                out.add(self + ": package " + pkg.replace('/', '.') + " is on no floor of the dependency rule (DependencyRuleTest.ALLOWED)");
                continue;
            }
            for (String used : referencedClasses(cm)) {
                for (Map.Entry<String, String> lib : CONFINED.entrySet()) {
                    if (used.startsWith(lib.getKey()) && !(pkg + "/").startsWith(lib.getValue() + "/")) {
                        out.add(self.replace('/', '.') + " uses " + used.replace('/', '.') + ": only "
                                + lib.getValue().replace('/', '.') + " may use " + lib.getKey().replace('/', '.').replaceAll("\\.$", ""));
                    }
                }
                for (Map.Entry<String, Set<String>> sealed : SEALED.entrySet()) {
                    String inside = sealed.getKey() + "/";
                    if ((packageOf(used) + "/").startsWith(inside) && !(pkg + "/").startsWith(inside) && !sealed.getValue().contains(pkg)) {
                        Set<String> who = new TreeSet<>(sealed.getValue());
                        who.add(sealed.getKey());
                        out.add(self.replace('/', '.') + " uses " + used.replace('/', '.') + ": only "
                                + String.join(" and ", who.stream().map(w -> w.replace('/', '.')).toList()) + " may use "
                                + sealed.getKey().replace('/', '.'));
                    }
                }
                String usedFloor = floorOf(packageOf(used));
                if (usedFloor == null || usedFloor.equals(floor) || allowed.contains(usedFloor)) continue;
                out.add(self.replace('/', '.') + " uses " + used.replace('/', '.') + ": " + floor + " may not depend on "
                        + usedFloor + " (it may use " + (allowed.isEmpty() ? "nothing of the project" : new TreeSet<>(allowed)) + ")");
            }
        }
        return out;
    }

    static Map<String, byte[]> read(Path root) throws IOException {
        Map<String, byte[]> out = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".class")).toList()) out.put(root.relativize(f).toString(), Files.readAllBytes(f));
        }
        return out;
    }

    @Test
    void theCompiledClassesKeepTheDependencyRule() throws IOException {
        Path classes = Path.of("target", "classes", "dev", "sam4j");
        assertTrue(Files.isDirectory(classes), "no compiled classes at " + classes.toAbsolutePath());
        Map<String, byte[]> all = read(classes.getParent().getParent());
        assertTrue(all.size() > 100, "too few classes read (" + all.size() + "): the scan is not looking where the build writes");
        assertEquals(List.of(), violations(all));
    }

    /** The scanner sees a use of each kind (a call, a field's type, a method's parameter) and names the floor. */
    @Test
    void theScannerSeesAViolation() throws IOException {
        Map<String, byte[]> planted = new java.util.TreeMap<>();
        // Backends opens the CUDA backend: the one class above backend.cuda that may name it.
        for (Class<?> c : List.of(dev.sam4j.io.Json.class, dev.sam4j.tensor.Shape.class, dev.sam4j.backend.Backends.class)) {
            String name = c.getName().replace('.', '/') + ".class";
            try (var in = c.getClassLoader().getResourceAsStream(name)) {
                planted.put(name, in.readAllBytes());
            }
        }
        assertEquals(List.of(), violations(planted));
        // A class of the io floor whose method takes a Shape: the rule allows io nothing of the project.
        byte[] bad = ClassFile.of().build(java.lang.constant.ClassDesc.of("dev.sam4j.io.Planted"), b -> b.withMethod("m",
                java.lang.constant.MethodTypeDesc.ofDescriptor("(Ldev/sam4j/tensor/Shape;)V"), ClassFile.ACC_STATIC,
                m -> m.withCode(code -> code.return_())));
        byte[] vector = ClassFile.of().build(java.lang.constant.ClassDesc.of("dev.sam4j.backend.Planted"), b -> b.withField("f",
                java.lang.constant.ClassDesc.of("jdk.incubator.vector.FloatVector"), ClassFile.ACC_STATIC));
        // CUDA's types above the backend floor (train may use backend) and beside backend.cuda (backend.cpu is on the
        // same floor): only the package rule on backend.cuda catches these.
        byte[] trainCuda = ClassFile.of().build(java.lang.constant.ClassDesc.of("dev.sam4j.train.Planted"), b -> b.withField("f",
                java.lang.constant.ClassDesc.of("dev.sam4j.backend.cuda.StepGraph"), ClassFile.ACC_STATIC));
        byte[] cpuCuda = ClassFile.of().build(java.lang.constant.ClassDesc.of("dev.sam4j.backend.cpu.Planted"), b -> b.withMethod("m",
                java.lang.constant.MethodTypeDesc.ofDescriptor("()Ldev/sam4j/backend/cuda/CudaBackend;"), ClassFile.ACC_STATIC,
                m -> m.withCode(code -> code.aconst_null().areturn())));
        planted.put("dev/sam4j/io/Planted.class", bad);
        planted.put("dev/sam4j/backend/Planted.class", vector);
        planted.put("dev/sam4j/train/Planted.class", trainCuda);
        planted.put("dev/sam4j/backend/cpu/Planted.class", cpuCuda);
        assertEquals(List.of(
                "dev.sam4j.backend.Planted uses jdk.incubator.vector.FloatVector: only dev.sam4j.backend.cpu may use jdk.incubator.vector",
                "dev.sam4j.backend.cpu.Planted uses dev.sam4j.backend.cuda.CudaBackend: only dev.sam4j.backend and dev.sam4j.backend.cuda"
                        + " may use dev.sam4j.backend.cuda",
                "dev.sam4j.io.Planted uses dev.sam4j.tensor.Shape: io may not depend on tensor (it may use nothing of the project)",
                "dev.sam4j.train.Planted uses dev.sam4j.backend.cuda.StepGraph: only dev.sam4j.backend and dev.sam4j.backend.cuda"
                        + " may use dev.sam4j.backend.cuda"),
                violations(planted));
    }
}
