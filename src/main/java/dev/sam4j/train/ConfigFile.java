package dev.sam4j.train;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.JsonReader;
import dev.sam4j.optim.sam.Method;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a run directory's {@code config.json} (as written from {@link TrainConfig#toMap()}) back into a
 * {@link TrainConfig}, for {@code --resume}. Strict, since a resumed run must be the same run: every key
 * must be known and of the right type, numbers finite, and every key present except the ones added later
 * ({@code input}, {@code checkpoint_every}, {@code on_nonfinite}, {@code divergence_*}, {@code init_from},
 * {@code deterministic}, {@code precision}, {@code image_layout}),
 * which take their defaults. Problems are {@link FileFormatException}s naming the
 * file and the key. Values are then validated by the builder, as options are.
 */
public final class ConfigFile {
    /** Far more than any config; a larger file is not one. */
    static final long MAX_BYTES = 1 << 20;

    // Keys added after the first release of the format: older run directories lack them and still resume.
    private static final Set<String> OPTIONAL = Set.of("input", "train_subset", "checkpoint_every", "on_nonfinite", "divergence_loss",
            "divergence_steps", "init_from", "deterministic", "keep_last_batch", "looksam_max_age", "msam_rho", "ranks", "sam_perturbation",
            "precision", "image_layout");

    private ConfigFile() {}

    public static TrainConfig read(Path file) {
        String src = file.toString();
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_BYTES) throw new FileFormatException(src, size + " bytes is too large for a run configuration");
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new FileFormatException(src, "no such file (is this a run directory?)");
        } catch (CharacterCodingException e) {
            throw new FileFormatException(src, "not valid UTF-8");
        } catch (IOException e) {
            throw new FileFormatException(src, "cannot read: " + e.getMessage(), e);
        }
        return parse(text, src);
    }

    /** {@link #read} on text in memory; {@code src} names it in messages. */
    public static TrainConfig parse(String text, String src) {
        if (!(JsonReader.parse(text, src) instanceof Map<?, ?> m)) throw new FileFormatException(src, "not a JSON object");
        TrainConfig.Builder b = TrainConfig.builder();
        // A run directory written before these keys existed ran with the partial last batch and a g_v that never
        // expires: a missing key means that, so such a run resumes as it started.
        b.keepLastBatch(true);
        Method.Hyper.Builder h = Method.Hyper.defaults().toBuilder().lookSamMaxAge(0);
        Set<String> seen = new HashSet<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = (String) e.getKey();
            Object v = e.getValue();
            Value x = new Value(src, k, v);
            switch (k) {
                case "data" -> b.data(x.string());
                case "model" -> b.model(x.string());
                case "optimizer" -> b.optimizer(x.string());
                case "epochs" -> b.epochs(x.integer());
                case "batch_size" -> b.batchSize(x.integer());
                case "eval_batch_size" -> b.evalBatchSize(x.integer());
                case "lr" -> b.lr(x.number());
                case "schedule" -> b.schedule(x.string());
                case "warmup_steps" -> b.warmupSteps(x.integer());
                case "momentum" -> b.momentum(x.number());
                case "weight_decay" -> b.weightDecay(x.number());
                case "nesterov" -> b.nesterov(x.bool());
                case "seed" -> b.seed(x.longInteger());
                case "label_noise" -> b.labelNoise(x.number());
                case "train_subset" -> b.trainSubset(x.integer());
                case "augment" -> b.augment(x.string());
                case "device" -> b.device(x.string());
                case "threads" -> b.threads(x.integer());
                case "max_steps" -> b.maxSteps(x.longInteger());
                case "shuffle" -> b.shuffle(x.bool());
                case "out" -> b.out(x.path());
                case "cuda_step" -> b.cudaStep(x.string());
                case "input" -> b.input(x.string());
                case "rho" -> h.rho(x.number());
                case "asam_rho" -> h.asamRho(x.number());
                case "asam_eta" -> h.asamEta(x.number());
                case "sssam_p" -> h.sssamP(x.number());
                case "sssam_p_end" -> h.sssamPEnd(x.numberOrNaN());
                case "looksam_k" -> h.lookSamK(x.integer());
                case "looksam_alpha" -> h.lookSamAlpha(x.number());
                case "ae_delta" -> h.aeDelta(x.number());
                case "ae_lambda1" -> h.aeLambda1(x.number());
                case "ae_lambda2" -> h.aeLambda2(x.number());
                case "ae_warmup" -> h.aeWarmup(x.integer());
                case "esam_beta" -> h.esamBeta(x.number());
                case "esam_gamma" -> h.esamGamma(x.number());
                case "esam_swp" -> h.esamSwp(x.bool());
                case "esam_sds" -> h.esamSds(x.bool());
                case "looksam_per_tensor" -> h.lookSamPerTensor(x.bool());
                case "looksam_max_age" -> h.lookSamMaxAge(x.integer());
                case "msam_rho" -> h.msamRho(x.number());
                case "checkpoint_every" -> b.checkpointEvery(x.longInteger());
                case "on_nonfinite" -> b.onNonFinite(x.string());
                case "divergence_loss" -> b.divergenceLoss(x.numberOrNaN());
                case "divergence_steps" -> b.divergenceSteps(x.integer());
                case "init_from" -> b.initFrom(x.path());
                case "deterministic" -> b.deterministic(x.bool());
                case "keep_last_batch" -> b.keepLastBatch(x.bool());
                case "ranks" -> b.ranks(x.integer());
                case "sam_perturbation" -> b.samPerturbation(x.string());
                case "precision" -> {
                    try {
                        b.precision(x.string());
                    } catch (IllegalArgumentException bad) {
                        throw new FileFormatException(src, "invalid value: " + bad.getMessage(), bad);
                    }
                }
                case "image_layout" -> {
                    try {
                        b.imageLayout(x.string());
                    } catch (IllegalArgumentException bad) {
                        throw new FileFormatException(src, "invalid value: " + bad.getMessage(), bad);
                    }
                }
                default -> throw new FileFormatException(src, "unknown key \"" + k + "\"");
            }
            seen.add(k);
        }
        for (String k : KEYS) {
            if (!seen.contains(k) && !OPTIONAL.contains(k)) throw new FileFormatException(src, "missing key \"" + k + "\"");
        }
        try {
            return b.hyper(h.build()).build();
        } catch (IllegalArgumentException e) {
            // config.json holds the command line's settings, so its wording names them as options.
            String why = e instanceof dev.sam4j.io.InvalidSettingException s ? s.commandLineMessage() : e.getMessage();
            throw new FileFormatException(src, "invalid value: " + why, e);
        }
    }

    /** Every key {@link TrainConfig#toMap()} writes. */
    static final List<String> KEYS = List.copyOf(TrainConfig.builder().build().toMap().keySet());

    private record Value(String src, String key, Object v) {
        private FileFormatException wrong(String expected) {
            String got = v == null ? "null" : v instanceof String ? "a string" : v instanceof Boolean ? "a boolean"
                    : v instanceof Number ? "the number " + v : v instanceof Map ? "an object" : "an array";
            return new FileFormatException(src, "key \"" + key + "\" must be " + expected + ", got " + got);
        }

        String string() {
            if (v instanceof String s) return s;
            throw wrong("a string");
        }

        Path path() {
            if (v == null) return null;
            try {
                return Path.of(string());
            } catch (java.nio.file.InvalidPathException e) {
                throw new FileFormatException(src, "key \"" + key + "\" is not a valid path: " + e.getMessage());
            }
        }

        boolean bool() {
            if (v instanceof Boolean x) return x;
            throw wrong("true or false");
        }

        long longInteger() {
            if (v instanceof Long x) return x;
            throw wrong("an integer");
        }

        int integer() {
            if (v instanceof Long x && x >= Integer.MIN_VALUE && x <= Integer.MAX_VALUE) return (int) (long) x;
            throw wrong("an integer in the 32-bit range");
        }

        double number() {
            if (v instanceof Long x) return x;
            if (v instanceof Double x && Double.isFinite(x)) return x;
            throw wrong("a finite number");
        }

        /** JSON has no NaN: an unset optional number is written as null. */
        double numberOrNaN() { return v == null ? Double.NaN : number(); }
    }
}
