package dev.sam4j.backend.cpu;

/**
 * Whether the incubating Vector API ({@code jdk.incubator.vector}) is in the boot layer, checked before any
 * class of this package that uses it is loaded. The module is not resolved by default, and without it the
 * first touch of {@code VectorOps} fails with {@code NoClassDefFoundError: jdk/incubator/vector/Vector},
 * which names neither the cause nor the fix; {@link #require()} says both in one line instead.
 *
 * <p>This class must never reference the Vector API itself (not even in a signature or an import): the check
 * is only worth anything if it can run in a JVM that lacks the module.
 */
public final class VectorModule {
    private VectorModule() {}

    /** The module's name, for messages and checks. */
    public static final String NAME = "jdk.incubator.vector";

    /** The one line that says what is missing and where the flag goes. */
    public static final String MISSING = "sam4j's CPU backend needs the JDK module " + NAME + ", which this JVM "
            + "did not load: add --add-modules " + NAME + " to the java command line (for mvn exec:java: to "
            + "MAVEN_OPTS or .mvn/jvm.config; for tests: to the surefire argLine)";

    /** True when {@code jdk.incubator.vector} is in the boot layer. */
    public static boolean present() {
        return ModuleLayer.boot().findModule(NAME).isPresent();
    }

    /** Throws {@link IllegalStateException} with {@link #MISSING} unless the module is present. */
    public static void require() {
        if (!present()) throw new IllegalStateException(MISSING);
    }
}
