package dev.sam4j.train;

import dev.sam4j.io.AtomicFiles;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import dev.sam4j.nn.Model;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A run's checkpoint, {@code RUN_DIR/checkpoint.safetensors}: everything a resumed run needs to continue
 * bit-identically on the CPU, in one safetensors file that PyTorch's and Hugging Face's tools can open.
 * <ul>
 *   <li>tensors: the model's parameters and BatchNorm running statistics under their PyTorch names
 *       ({@code layers.1.weight}, {@code features.1.running_mean}), SGD's momentum arena as one flat
 *       {@code optim.momentum}, and LookSAM's stored direction as a flat {@code policy.g_v};</li>
 *   <li>{@code __metadata__} strings: {@code format=pt} (what Hugging Face's tools look for), the run's
 *       configuration, the optimizer's counters and statistic ({@code optim.*}, {@code policy.*},
 *       {@code looksam.*}, {@code esam.*}; random streams as the number of draws taken) and the
 *       {@link Progress} ({@code progress.*}).</li>
 * </ul>
 * Written with {@link AtomicFiles}, so a process killed while writing leaves the previous checkpoint.
 */
public final class Checkpoint {
    /** The checkpoint's name in a run directory. */
    public static final String FILE = "checkpoint.safetensors";
    static final String MOMENTUM = "optim.momentum";
    static final String LOOKSAM_DIRECTION = "policy.g_v";
    static final String VERSION_KEY = "sam4j.checkpoint";
    static final String VERSION = "1";

    private Checkpoint() {}

    private static long[] dims(ParamSpec s) {
        return Arrays.stream(s.shape().dims()).asLongStream().toArray();
    }

    static void save(Path file, TrainConfig config, Model model, Sgd sgd, SamOptimizer optimizer, Progress progress) {
        SafeTensors.Writer w = new SafeTensors.Writer();
        w.metadata("format", "pt").metadata(VERSION_KEY, VERSION);
        w.metadata("sam4j.model", config.model()).metadata("sam4j.optimizer", config.optimizer())
                .metadata("sam4j.seed", Long.toString(config.seed())).metadata("sam4j.config", Json.write(config.toMap()));
        addArena(w, model.paramLayout(), model.downloadParams());
        addArena(w, model.stateLayout(), model.downloadState());
        float[] m = new float[Math.toIntExact(model.paramCount())];
        if (m.length > 0) model.backend().download(sgd.momentumArena(), m, 0, m.length);
        w.add(MOMENTUM, new long[] {m.length}, m);
        if (optimizer.lookSamDirection() != null) {
            float[] gv = new float[m.length];
            if (gv.length > 0) model.backend().download(optimizer.lookSamDirection(), gv, 0, gv.length);
            w.add(LOOKSAM_DIRECTION, new long[] {gv.length}, gv);
        }
        SamOptimizer.State st = optimizer.state();
        w.metadata("optim.steps", Long.toString(st.steps()));
        w.metadata("optim.sam_steps", Long.toString(st.samSteps()));
        w.metadata("optim.skipped_steps", Long.toString(st.skippedSteps()));
        w.metadata("looksam.norm", Double.toString(st.lookSamNorm()));
        if (st.lookSamTensorNorms() != null) {
            StringBuilder b = new StringBuilder();
            for (double d : st.lookSamTensorNorms()) b.append(b.isEmpty() ? "" : ",").append(d);
            w.metadata("looksam.tensor_norms", b.toString());
        }
        w.metadata("policy.mu", Double.toString(st.statMean()));
        w.metadata("policy.variance", Double.toString(st.statVariance()));
        w.metadata("policy.observed", Long.toString(st.statObserved()));
        w.metadata("policy.rng_draws", Long.toString(st.policyDraws()));
        w.metadata("esam.rng_draws", Long.toString(st.esamDraws()));
        progress.toMetadata().forEach(w::metadata);
        AtomicFiles.removeStale(file);
        w.write(file);
    }

    private static void addArena(SafeTensors.Writer w, ParamLayout layout, float[] arena) {
        for (ParamSpec s : layout.specs()) {
            w.add(s.name(), dims(s), Arrays.copyOfRange(arena, Math.toIntExact(s.offset()), Math.toIntExact(s.end())));
        }
    }

    /** Restores model, momentum and optimizer state from {@code file}; returns the run's progress. */
    static Progress restore(Path file, TrainConfig config, Model model, Sgd sgd, SamOptimizer optimizer) {
        SafeTensors.Contents c = SafeTensors.read(file);
        String src = file.toString();
        if (!VERSION.equals(c.metadata().get(VERSION_KEY))) {
            throw new FileFormatException(src, "not a sam4j checkpoint (metadata \"" + VERSION_KEY + "\" is not " + VERSION
                    + "); plain weights can be loaded with --init-from");
        }
        for (String[] kv : new String[][] {{"sam4j.model", config.model()}, {"sam4j.optimizer", config.optimizer()},
                {"sam4j.seed", Long.toString(config.seed())}}) {
            if (!kv[1].equals(c.meta(kv[0]))) {
                throw new FileFormatException(src, "was written by a different run: " + kv[0] + " is '" + c.meta(kv[0])
                        + "', this run's is '" + kv[1] + "'");
            }
        }
        Set<String> expected = new HashSet<>();
        model.paramLayout().specs().forEach(s -> expected.add(s.name()));
        model.stateLayout().specs().forEach(s -> expected.add(s.name()));
        expected.add(MOMENTUM);
        if (optimizer.lookSamDirection() != null) expected.add(LOOKSAM_DIRECTION);
        for (String name : c.entries().keySet()) {
            if (!expected.contains(name)) throw new FileFormatException(src, "unexpected tensor '" + name + "' for model " + config.model() + " and optimizer " + config.optimizer());
        }
        float[] params = loadArena(c, model.paramLayout(), config.model(), true);
        float[] state = loadArena(c, model.stateLayout(), config.model(), true);
        long n = model.paramCount();
        float[] m = tensor(c, MOMENTUM, new long[] {n}, "optimizer");
        float[] gv = optimizer.lookSamDirection() == null ? null : tensor(c, LOOKSAM_DIRECTION, new long[] {n}, "LookSAM");
        Progress.Meta meta = new Progress.Meta(c);
        double[] tensorNorms = null;
        if (c.metadata().containsKey("looksam.tensor_norms")) {
            String[] parts = c.meta("looksam.tensor_norms").split(",", -1);
            tensorNorms = new double[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    tensorNorms[i] = Double.parseDouble(parts[i]);
                } catch (NumberFormatException e) {
                    throw meta.bad("looksam.tensor_norms", "is not a list of numbers");
                }
                if (!(tensorNorms[i] >= 0) || Double.isInfinite(tensorNorms[i])) throw meta.bad("looksam.tensor_norms", "must be finite and >= 0");
            }
        }
        SamOptimizer.State st = new SamOptimizer.State(meta.count("optim.steps"), meta.count("optim.sam_steps"),
                meta.count("optim.skipped_steps"), meta.real("looksam.norm", false), tensorNorms,
                meta.real("policy.mu", true), meta.real("policy.variance", true), meta.count("policy.observed"),
                meta.count("policy.rng_draws"), meta.count("esam.rng_draws"));
        Progress p = Progress.fromMetadata(c);
        try {
            optimizer.restore(st); // the statistic is read by the adaptive policy only, so NaN elsewhere is fine
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(src, "optimizer state: " + e.getMessage(), e);
        }
        model.uploadParams(params);
        model.uploadState(state);
        if (n > 0) {
            model.backend().upload(m, 0, sgd.momentumArena(), m.length);
            if (gv != null) model.backend().upload(gv, 0, optimizer.lookSamDirection(), gv.length);
        }
        return p;
    }

    /**
     * Loads a model's weights by name from any safetensors file ({@code --init-from}): a sam4j checkpoint or
     * export, or one written by PyTorch's {@code safetensors.torch.save_file(model.state_dict())}. Every
     * parameter must be there with its shape; running statistics are loaded where present; {@code optim.*},
     * {@code policy.*} and {@code *.num_batches_tracked} are ignored; any other tensor is an error (a wrong
     * model, most likely).
     */
    static void loadWeights(Path file, Model model, String modelName) {
        SafeTensors.Contents c = SafeTensors.read(file);
        for (String name : c.entries().keySet()) {
            if (name.startsWith("optim.") || name.startsWith("policy.") || name.endsWith(".num_batches_tracked")) continue;
            if (!model.paramLayout().contains(name) && !model.stateLayout().contains(name)) {
                throw new FileFormatException(file.toString(), "tensor '" + name + "' is not in model " + modelName);
            }
        }
        float[] params = loadArena(c, model.paramLayout(), modelName, true);
        float[] state = loadArena(c, model.stateLayout(), modelName, false);
        model.uploadParams(params);
        if (state != null) model.uploadState(state);
    }

    /** The arena of {@code layout} from the file's tensors; null when {@code required} is false and one is absent. */
    private static float[] loadArena(SafeTensors.Contents c, ParamLayout layout, String modelName, boolean required) {
        float[] arena = new float[Math.toIntExact(layout.total())];
        for (ParamSpec s : layout.specs()) {
            if (!c.has(s.name())) {
                if (!required) return null;
                throw new FileFormatException(c.path().toString(), "no tensor '" + s.name() + "', which model " + modelName + " needs");
            }
            float[] t = tensor(c, s.name(), dims(s), "model " + modelName);
            System.arraycopy(t, 0, arena, Math.toIntExact(s.offset()), t.length);
        }
        return arena;
    }

    /** Tensor {@code name}, checked for shape (against {@code who}'s need) and finiteness. */
    private static float[] tensor(SafeTensors.Contents c, String name, long[] shape, String who) {
        SafeTensors.Entry e = c.entries().get(name);
        if (e == null) throw new FileFormatException(c.path().toString(), "no tensor '" + name + "'");
        if (!Arrays.equals(e.shape(), shape)) {
            throw new FileFormatException(c.path().toString(), "tensor '" + name + "' has shape " + e.shapeString() + ", "
                    + who + " needs " + Arrays.toString(shape));
        }
        float[] v = c.floats(name);
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new FileFormatException(c.path().toString(), "tensor '" + name + "' holds a non-finite value (" + v[i] + " at index " + i + ")");
            }
        }
        return v;
    }

    /**
     * Writes the model's weights (parameters and running statistics, PyTorch names, {@code format=pt}) from
     * the checkpoint in {@code runDir} to {@code out}: a file for PyTorch, Hugging Face or {@code --init-from}.
     */
    public static void exportWeights(Path runDir, Path out) {
        Path file = runDir.resolve(FILE);
        SafeTensors.Contents c = SafeTensors.read(file);
        if (!VERSION.equals(c.metadata().get(VERSION_KEY))) throw new FileFormatException(file.toString(), "not a sam4j checkpoint");
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt");
        for (Map.Entry<String, String> kv : c.metadata().entrySet()) {
            if (kv.getKey().equals("sam4j.model") || kv.getKey().equals("sam4j.config")) w.metadata(kv.getKey(), kv.getValue());
        }
        for (SafeTensors.Entry e : c.entries().values()) {
            if (e.name().startsWith("optim.") || e.name().startsWith("policy.")) continue;
            w.add(e.name(), e.shape(), tensor(c, e.name(), e.shape(), "the export"));
        }
        w.write(out);
    }
}
