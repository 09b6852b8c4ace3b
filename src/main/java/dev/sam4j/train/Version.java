package dev.sam4j.train;

/** The project version, from the jar manifest when packaged, else "dev". */
public final class Version {
    private Version() {}

    public static String get() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
