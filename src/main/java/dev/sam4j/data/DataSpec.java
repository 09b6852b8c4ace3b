package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * The {@code --data} option: which dataset to train and test on. {@link #parse} turns the string into
 * one of the records below without touching the file system; {@link #load()} reads or generates the data
 * and says in {@link DataSplit#description()} which source was used.
 */
public sealed interface DataSpec {
    String VALID_FORMS = """
            fashion-mnist                 the full set if installed in %s, else the embedded sample
              fashion-mnist:DIR             the full set from DIR (the four IDX files, gzip'd or not)
              fashion-mnist-sample          the 2000/1000-example sample embedded in the jar
              cifar10:DIR                   CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin)
              cifar100:DIR                  CIFAR-100 binary version (train.bin, test.bin; fine labels)
              synthetic[:C,H,W[:CLASSES[:TRAIN_N[:TEST_N]]]]  seeded learnable data (default 1,28,28:10:2048:512)
              npy:IMAGES.npy,LABELS.npy[,TEST_IMAGES.npy,TEST_LABELS.npy]  uint8/float32 images (NCHW, NHWC or NHW), int labels
              safetensors:FILE              tensors images, labels [, test_images, test_labels], as for npy
              imagefolder:DIR               DIR/train/<class>/*, DIR/val/<class>/* (or one tree, held out by val-fraction)
              options: KIND[opt,...]:PATH with val-fraction=F, split-seed=S, layout=nchw|nhwc, image-size=N, skip-bad-images"""
            .formatted(FashionMnist.SYSTEM_DIR);

    String DEFAULT = "fashion-mnist";

    DataSplit load();

    /** The spec string that parses back to this (for the run's resolved configuration). */
    String spec();

    /** {@code fashion-mnist}: the full set from {@code systemDir} if all four files are there, else the sample. */
    record FashionMnistAuto(Path systemDir) implements DataSpec {
        @Override public DataSplit load() {
            if (FashionMnist.isInstalled(systemDir)) return FashionMnist.readFull(systemDir);
            return FashionMnist.embeddedSample("full set not found in " + systemDir
                    + "; install it (Debian: dataset-fashion-mnist) or pass --data fashion-mnist:DIR");
        }

        @Override public String spec() { return "fashion-mnist"; }
    }

    record FashionMnistDir(Path dir) implements DataSpec {
        @Override public DataSplit load() { return FashionMnist.readFull(dir); }

        @Override public String spec() { return "fashion-mnist:" + dir; }
    }

    record FashionMnistSample() implements DataSpec {
        @Override public DataSplit load() { return FashionMnist.embeddedSample("chosen by --data fashion-mnist-sample"); }

        @Override public String spec() { return "fashion-mnist-sample"; }
    }

    record Cifar(CifarReader.Variant variant, Path dir) implements DataSpec {
        @Override public DataSplit load() {
            Path d = CifarReader.locate(variant, dir);
            Dataset train = CifarReader.readTrain(variant, d);
            Dataset test = CifarReader.readTest(variant, d);
            return new DataSplit(train, test, "data: " + variant.displayName() + " from " + d + " (" + FashionMnist.counts(train, test) + ")");
        }

        @Override public String spec() { return (variant == CifarReader.Variant.CIFAR10 ? "cifar10:" : "cifar100:") + dir; }
    }

    record SyntheticData(Shape exampleShape, int classes, int trainN, int testN, long seed) implements DataSpec {
        @Override public DataSplit load() { return Synthetic.generate(exampleShape, classes, trainN, testN, seed); }

        @Override public String spec() {
            return "synthetic:" + exampleShape.dim(0) + "," + exampleShape.dim(1) + "," + exampleShape.dim(2) + ":" + classes + ":" + trainN + ":" + testN;
        }
    }

    /** {@code npy:}: images and labels from {@code .npy} files; test arrays null: held out from the training arrays. */
    record NpyArrays(Path images, Path labels, Path testImages, Path testLabels, SourceOptions options) implements DataSpec {
        @Override public DataSplit load() { return ArraySource.npy(images, labels, testImages, testLabels, options); }

        @Override public String spec() {
            return "npy" + options.text() + ":" + images + "," + labels + (testImages == null ? "" : "," + testImages + "," + testLabels);
        }
    }

    /** {@code safetensors:}: tensors {@code images}, {@code labels} (and optionally {@code test_images}, {@code test_labels}). */
    record SafetensorsArrays(Path file, SourceOptions options) implements DataSpec {
        @Override public DataSplit load() { return ArraySource.safetensors(file, options); }

        @Override public String spec() { return "safetensors" + options.text() + ":" + file; }
    }

    /** {@code imagefolder:}: torchvision's ImageFolder layout (see {@link ImageFolder}). */
    record ImageFolderData(Path dir, SourceOptions options) implements DataSpec {
        @Override public DataSplit load() {
            if (ModuleLayer.boot().findModule("java.desktop").isEmpty()) {
                throw new IllegalArgumentException("--data imagefolder: needs the java.desktop module (javax.imageio), which this Java "
                        + "runtime lacks (a jlink'd one made without it); use a full JDK, or npy:/safetensors: arrays");
            }
            return ImageFolder.load(dir, options);
        }

        @Override public String spec() { return "imagefolder" + options.text() + ":" + dir; }
    }

    /**
     * {@code spec} with source options set from command-line flags ({@code sam4j train --image-size ...}):
     * each non-null argument replaces the option of the same name. Only the user's own data sources take them.
     *
     * @param flag the option the values came from, for the message when the source takes none
     */
    static String withOptions(String spec, String flag, Integer imageSize, Double valFraction, Long splitSeed, String layout, boolean skipBadImages) {
        return withOptions(spec, flag, imageSize, valFraction, splitSeed, layout, skipBadImages, null);
    }

    /** As above, and {@code cache} ("on", "off"; null: as the spec says). */
    static String withOptions(String spec, String flag, Integer imageSize, Double valFraction, Long splitSeed, String layout, boolean skipBadImages,
            String cache) {
        DataSpec d = parse(spec);
        SourceOptions o = switch (d) {
            case NpyArrays n -> n.options();
            case SafetensorsArrays st -> st.options();
            case ImageFolderData f -> f.options();
            default -> throw new IllegalArgumentException(flag + ": only for --data npy:, safetensors: and imagefolder:, not '" + printable(spec) + "'");
        };
        StringBuilder b = new StringBuilder(o.text().isEmpty() ? "" : o.text().substring(1, o.text().length() - 1));
        if (imageSize != null) b.append(",image-size=").append(imageSize);
        if (valFraction != null) b.append(",val-fraction=").append(valFraction);
        if (splitSeed != null) b.append(",split-seed=").append(splitSeed);
        if (layout != null) b.append(",layout=").append(layout);
        if (skipBadImages) b.append(",skip-bad-images");
        if (cache != null) b.append(",cache=").append(cache);
        String inner = b.toString().replaceFirst("^,", "");
        String kind = switch (d) {
            case NpyArrays n -> "npy";
            case SafetensorsArrays st -> "safetensors";
            default -> "imagefolder";
        };
        String rest = spec.strip().substring(spec.strip().indexOf(':') + 1);
        // parse again: the later of two equal keys wins, and the result is checked like any --data
        return parse(kind + "[" + inner + "]:" + rest).spec();
    }

    /** Parses with the default system directory for {@code fashion-mnist}. */
    static DataSpec parse(String spec) { return parse(spec, FashionMnist.SYSTEM_DIR); }

    /**
     * @param systemDir where plain {@code fashion-mnist} looks for the full set
     * @throws IllegalArgumentException for anything else than the {@link #VALID_FORMS}, saying why
     */
    static DataSpec parse(String spec, Path systemDir) {
        if (spec == null || spec.isBlank()) throw invalid(String.valueOf(spec), "it is empty");
        String s = spec.strip();
        int colon = s.indexOf(':');
        String kind = colon < 0 ? s : s.substring(0, colon);
        String rest = colon < 0 ? null : s.substring(colon + 1);
        SourceOptions options = SourceOptions.NONE;
        int bracket = kind.indexOf('[');
        if (bracket >= 0) {
            if (!kind.endsWith("]")) throw invalid(spec, "options must be written KIND[opt,...]:PATH");
            String inner = kind.substring(bracket + 1, kind.length() - 1);
            kind = kind.substring(0, bracket);
            if (!kind.equals("npy") && !kind.equals("safetensors") && !kind.equals("imagefolder")) {
                throw invalid(spec, "only npy, safetensors and imagefolder take options");
            }
            try {
                options = SourceOptions.parse(inner);
            } catch (IllegalArgumentException e) {
                throw invalid(spec, e.getMessage());
            }
        }
        return switch (kind) {
            case "npy" -> npy(spec, rest, options);
            case "safetensors" -> new SafetensorsArrays(dir(spec, rest), options);
            case "imagefolder" -> new ImageFolderData(dir(spec, rest), options);
            case "fashion-mnist" -> rest == null ? new FashionMnistAuto(systemDir) : new FashionMnistDir(dir(spec, rest));
            case "fashion-mnist-sample" -> {
                if (rest != null) throw invalid(spec, "fashion-mnist-sample takes no argument");
                yield new FashionMnistSample();
            }
            case "cifar10" -> new Cifar(CifarReader.Variant.CIFAR10, dir(spec, rest));
            case "cifar100" -> new Cifar(CifarReader.Variant.CIFAR100, dir(spec, rest));
            case "synthetic" -> synthetic(spec, rest);
            default -> throw invalid(spec, "unknown dataset '" + printable(kind) + "'");
        };
    }

    private static DataSpec npy(String spec, String rest, SourceOptions options) {
        if (rest == null || rest.isEmpty()) throw invalid(spec, "npy needs IMAGES.npy,LABELS.npy");
        String[] parts = rest.split(",", -1);
        if (parts.length != 2 && parts.length != 4) {
            throw invalid(spec, "npy takes IMAGES.npy,LABELS.npy or IMAGES.npy,LABELS.npy,TEST_IMAGES.npy,TEST_LABELS.npy (" + parts.length + " paths given)");
        }
        Path[] p = new Path[parts.length];
        for (int i = 0; i < parts.length; i++) p[i] = dir(spec, parts[i]);
        return parts.length == 2 ? new NpyArrays(p[0], p[1], null, null, options) : new NpyArrays(p[0], p[1], p[2], p[3], options);
    }

    private static Path dir(String spec, String rest) {
        if (rest == null || rest.isEmpty()) throw invalid(spec, "a directory is required after the colon");
        try {
            return Path.of(rest);
        } catch (InvalidPathException e) {
            // e.g. a NUL byte: the JDK's own message would not say which option or list the valid forms
            throw invalid(spec, "'" + printable(rest) + "' is not a usable directory path (" + e.getReason() + ")");
        }
    }

    /** Control characters shown as escapes, so that the one-line error stays one line and readable. */
    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.toString();
    }

    private static DataSpec synthetic(String spec, String rest) {
        Shape shape = Synthetic.DEFAULT_SHAPE;
        int classes = Synthetic.DEFAULT_CLASSES, trainN = Synthetic.DEFAULT_TRAIN, testN = Synthetic.DEFAULT_TEST;
        if (rest != null) {
            String[] parts = rest.split(":", -1);
            if (parts.length > 4) throw invalid(spec, "synthetic takes at most C,H,W:CLASSES:TRAIN_N:TEST_N");
            String[] chw = parts[0].split(",", -1);
            if (chw.length != 3) throw invalid(spec, "the example shape must be C,H,W (three numbers), got '" + parts[0] + "'");
            shape = Shape.of(number(spec, "C", chw[0], 1, 4096), number(spec, "H", chw[1], 1, 65536), number(spec, "W", chw[2], 1, 65536));
            if (parts.length > 1) classes = number(spec, "CLASSES", parts[1], 2, 65536);
            if (parts.length > 2) trainN = number(spec, "TRAIN_N", parts[2], 1, Integer.MAX_VALUE);
            if (parts.length > 3) testN = number(spec, "TEST_N", parts[3], 1, Integer.MAX_VALUE);
            // In double: C·H·W (up to 2^44) times a count (up to 2^31) overflows a long and would wrap past the check.
            if ((double) shape.size() * Math.max(trainN, testN) > IdxReader.MAX_PAYLOAD_BYTES) {
                throw invalid(spec, shape + " × " + Math.max(trainN, testN) + " examples is more than one array can hold");
            }
        }
        return new SyntheticData(shape, classes, trainN, testN, Synthetic.DEFAULT_SEED);
    }

    private static int number(String spec, String what, String text, int min, int max) {
        int v;
        String t = text.strip();
        try {
            // ASCII digits only: parseInt also takes other scripts' digits, which would not round-trip through spec()
            if (!t.matches("[+-]?[0-9]{1,10}")) throw new NumberFormatException();
            v = Integer.parseInt(t);
        } catch (NumberFormatException e) {
            throw invalid(spec, what + " must be a whole number" + (t.matches("[+-]?[0-9]+") ? " below 2^31" : "")
                    + ", got '" + printable(text) + "'");
        }
        if (v < min || v > max) throw invalid(spec, what + " must be in [" + min + ", " + max + "], got " + v);
        return v;
    }

    private static IllegalArgumentException invalid(String spec, String why) {
        return new IllegalArgumentException("invalid --data '" + printable(spec) + "': " + why + ". Valid forms:\n  " + VALID_FORMS);
    }
}
