package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.data.Normalization;
import dev.sam4j.io.AtomicFiles;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.Json;
import dev.sam4j.io.SafeTensors;
import dev.sam4j.nn.Model;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
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
 * bit-identically, in one safetensors file that PyTorch's and Hugging Face's tools can open. Both step paths
 * write it: the host-driven step ({@link SamOptimizer}) and the CUDA graph step ({@link DeviceDecidedStep}),
 * marked by {@code sam4j.step_path}; a checkpoint resumes on the path that wrote it only (see {@link #open}).
 * <ul>
 *   <li>tensors: the model's parameters and BatchNorm running statistics under their PyTorch names
 *       ({@code layers.1.weight}, {@code features.1.running_mean}), SGD's momentum arena as one flat
 *       {@code optim.momentum}, and LookSAM's stored direction as a flat {@code policy.g_v};</li>
 *   <li>{@code __metadata__} strings: {@code format=pt} (what Hugging Face's tools look for), the run's
 *       configuration, the optimizer's counters and statistic ({@code optim.*}, {@code policy.*},
 *       {@code looksam.*}, {@code esam.*}; random streams as the number of draws taken) and the
 *       {@link Progress} ({@code progress.*}); the graph step writes the device's counters, AE-SAM statistic
 *       and LookSAM's {@code looksam.age} under the same keys, plus {@code optim.nonfinite_s} and
 *       {@code looksam.gv_sum_squares}; with
 *       {@code --deterministic} on CUDA, the cuDNN convolution algorithms chosen ({@code cudnn.algorithms}),
 *       which the resumed run takes again ({@link #recordedAlgorithms}); and what applying the model to new
 *       images needs ({@link SavedModel}): its input shape, classes and the fitted input normalisation.</li>
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
    /** Which step wrote the checkpoint: {@link #HOST} or {@link #DEVICE}; absent (older files) means host. */
    static final String STEP_PATH_KEY = "sam4j.step_path";
    static final String HOST = "host";
    static final String DEVICE = "cuda-graph";
    /** Device step only: steps the device skipped (a non-finite loss or squared gradient norm of either pass; the name is older). */
    static final String DEVICE_NONFINITE = "optim.nonfinite_s";
    /** Device step only: {@code ||g_v||^2} of LookSAM's stored direction (the host keeps {@code ||g_v||}, {@code looksam.norm}). */
    static final String DEVICE_GV_SUMSQ = "looksam.gv_sum_squares";
    /** With {@code --deterministic} on CUDA: the cuDNN convolution algorithms chosen, per shape ({@link Backend.AlgorithmChoices#chosen}). */
    static final String CUDNN_ALGORITHMS = "cudnn.algorithms";

    private Checkpoint() {}

    private static long[] dims(ParamSpec s) {
        return Arrays.stream(s.shape().dims()).asLongStream().toArray();
    }

    /** The header and the tensors both step paths write: weights, running statistics, momentum, LookSAM's g_v. */
    private static SafeTensors.Writer begin(TrainConfig config, Model model, Normalization norm, String stepPath, Buffer momentum, Buffer lookSam) {
        SafeTensors.Writer w = new SafeTensors.Writer();
        w.metadata("format", "pt").metadata(VERSION_KEY, VERSION);
        w.metadata("sam4j.model", config.model()).metadata("sam4j.optimizer", config.optimizer())
                .metadata("sam4j.seed", Long.toString(config.seed())).metadata("sam4j.config", Json.write(config.toMap()))
                .metadata(STEP_PATH_KEY, stepPath);
        SavedModel.describe(w, model, norm);
        Backend.AlgorithmChoices algorithms = model.backend().algorithmChoices();
        if (config.deterministic() && algorithms != null && !algorithms.chosen().isEmpty()) {
            w.metadata(CUDNN_ALGORITHMS, algorithms.chosen());
        }
        addArena(w, model.paramLayout(), model.downloadParams());
        addArena(w, model.stateLayout(), model.downloadState());
        w.add(MOMENTUM, new long[] {model.paramCount()}, download(model, momentum));
        if (lookSam != null) w.add(LOOKSAM_DIRECTION, new long[] {model.paramCount()}, download(model, lookSam));
        return w;
    }

    private static float[] download(Model model, Buffer arena) {
        float[] a = new float[Math.toIntExact(model.paramCount())];
        if (a.length > 0) model.backend().download(arena, a, 0, a.length);
        return a;
    }

    private static void finish(SafeTensors.Writer w, Progress progress, Path file) {
        progress.toMetadata().forEach(w::metadata);
        AtomicFiles.removeStale(file);
        w.write(file);
    }

    /** A checkpoint of the host-driven step. */
    static void save(Path file, TrainConfig config, Model model, Normalization norm, Sgd sgd, SamOptimizer optimizer, Progress progress) {
        SafeTensors.Writer w = begin(config, model, norm, HOST, sgd.momentumArena(), optimizer.lookSamDirection());
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
        w.metadata("looksam.age", Long.toString(st.lookSamAge()));
        finish(w, progress, file);
    }

    /**
     * A checkpoint of the CUDA graph step ({@code graph} or {@code readback}: both run the same kernels on the
     * same device state). The counters and AE-SAM's statistic keep the host's keys where they mean the same
     * ({@code optim.steps} is the device step counter); the two values only the device has get their own keys.
     * Synchronises: call it between steps.
     */
    static void save(Path file, TrainConfig config, Model model, Normalization norm, DeviceDecidedStep step, Progress progress) {
        DeviceStepGraph.CarriedState st = step.exportState();
        SafeTensors.Writer w = begin(config, model, norm, DEVICE, step.momentum(), step.lookSamDirection());
        w.metadata("optim.steps", Long.toString(st.step()));
        w.metadata("optim.sam_steps", Long.toString(st.samSteps()));
        w.metadata(DEVICE_NONFINITE, Long.toString(st.nonFiniteSteps()));
        w.metadata("policy.mu", Double.toString(st.mu()));
        w.metadata("policy.variance", Double.toString(st.variance()));
        w.metadata("policy.observed", Long.toString(st.observed()));
        if (step.lookSamDirection() != null) w.metadata(DEVICE_GV_SUMSQ, Double.toString(st.lookSamSumSquares()));
        w.metadata("looksam.age", Long.toString(st.lookSamAge()));
        finish(w, progress, file);
    }

    private static void addArena(SafeTensors.Writer w, ParamLayout layout, float[] arena) {
        for (ParamSpec s : layout.specs()) {
            w.add(s.name(), dims(s), Arrays.copyOfRange(arena, Math.toIntExact(s.offset()), Math.toIntExact(s.end())));
        }
    }

    /**
     * Reads {@code file} and checks that it is a checkpoint of this run, written by {@code stepPath}, holding
     * exactly the tensors this model and optimizer need.
     */
    private static SafeTensors.Contents open(Path file, TrainConfig config, Model model, String stepPath, boolean lookSam) {
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
        // Checkpoints from before the graph paths wrote any have no step path: they are the host step's.
        String written = c.metadata().getOrDefault(STEP_PATH_KEY, HOST);
        if (!written.equals(stepPath)) {
            // Not interchangeable: the graph paths train on full batches only (fewer steps per epoch, another
            // learning-rate schedule length), keep LookSAM's ||g_v||^2 where the host keeps ||g_v||, and the host
            // keeps random-stream positions the device has no counterpart of.
            throw new FileFormatException(src, "was written by the " + describe(written) + " and this run uses the "
                    + describe(stepPath) + "; resume it with " + (written.equals(DEVICE)
                    ? "--device cuda and --cuda-step graph or readback" : "--cuda-step host (or on the CPU)"));
        }
        Set<String> expected = new HashSet<>();
        model.paramLayout().specs().forEach(s -> expected.add(s.name()));
        model.stateLayout().specs().forEach(s -> expected.add(s.name()));
        expected.add(MOMENTUM);
        if (lookSam) expected.add(LOOKSAM_DIRECTION);
        for (String name : c.entries().keySet()) {
            if (!expected.contains(name)) throw new FileFormatException(src, "unexpected tensor '" + name + "' for model " + config.model() + " and optimizer " + config.optimizer());
        }
        return c;
    }

    /**
     * The cuDNN convolution algorithms {@code file} recorded ({@code --deterministic} on CUDA), or null when it
     * recorded none. Reads the header only: a resumed run asks for them before it builds its model.
     */
    static String recordedAlgorithms(Path file) {
        return SafeTensors.read(file).metadata().get(CUDNN_ALGORITHMS);
    }

    private static String describe(String stepPath) {
        return switch (stepPath) {
            case HOST -> "host-driven step (--cuda-step host, or the CPU)";
            case DEVICE -> "CUDA graph step (--cuda-step graph or readback)";
            default -> "unknown step path '" + stepPath + "'";
        };
    }

    /** Uploads the checked arenas: weights, running statistics, momentum and (with LookSAM) g_v. */
    private static void uploadArenas(Model model, Buffer momentum, Buffer lookSam,
                                     float[] params, float[] state, float[] m, float[] gv) {
        model.uploadParams(params);
        model.uploadState(state);
        if (m.length > 0) {
            model.backend().upload(m, 0, momentum, m.length);
            if (gv != null) model.backend().upload(gv, 0, lookSam, gv.length);
        }
    }

    /** Restores model, momentum and the device step's state from a graph-path checkpoint; returns the run's progress. */
    static Progress restore(Path file, TrainConfig config, Model model, DeviceDecidedStep step) {
        boolean lookSam = step.lookSamDirection() != null;
        SafeTensors.Contents c = open(file, config, model, DEVICE, lookSam);
        float[] params = loadArena(c, model.paramLayout(), config.model(), true);
        float[] state = loadArena(c, model.stateLayout(), config.model(), true);
        long n = model.paramCount();
        float[] m = tensor(c, MOMENTUM, new long[] {n}, "optimizer");
        float[] gv = lookSam ? tensor(c, LOOKSAM_DIRECTION, new long[] {n}, "LookSAM") : null;
        Progress.Meta meta = new Progress.Meta(c);
        DeviceStepGraph.CarriedState st;
        try {
            st = new DeviceStepGraph.CarriedState(meta.count("optim.steps"), meta.count("policy.observed"), meta.count("optim.sam_steps"),
                    meta.count(DEVICE_NONFINITE), meta.real("policy.mu", false), meta.real("policy.variance", false),
                    lookSam ? meta.real(DEVICE_GV_SUMSQ, false) : 0,
                    // Written since g_v can expire on the graph step; older graph runs could not expire it, so its age is moot.
                    c.metadata().containsKey("looksam.age") ? meta.count("looksam.age") : 0);
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(file.toString(), "device step state: " + e.getMessage(), e);
        }
        Progress p = Progress.fromMetadata(c);
        if (st.step() != p.step) {
            throw meta.bad("optim.steps", "(" + st.step() + ") disagrees with progress.step (" + p.step + ")");
        }
        try {
            step.importState(st);
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(file.toString(), "device step state: " + e.getMessage(), e);
        }
        uploadArenas(model, step.momentum(), step.lookSamDirection(), params, state, m, gv);
        return p;
    }

    /** Restores model, momentum and optimizer state from {@code file}; returns the run's progress. */
    static Progress restore(Path file, TrainConfig config, Model model, Sgd sgd, SamOptimizer optimizer) {
        SafeTensors.Contents c = open(file, config, model, HOST, optimizer.lookSamDirection() != null);
        String src = file.toString();
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
                meta.count("policy.rng_draws"), meta.count("esam.rng_draws"),
                // Written since g_v can expire; older checkpoints come from runs where it never did, so its age is moot.
                c.metadata().containsKey("looksam.age") ? meta.count("looksam.age") : 0);
        Progress p = Progress.fromMetadata(c);
        try {
            optimizer.restore(st); // the statistic is read by the adaptive policy only, so NaN elsewhere is fine
        } catch (IllegalArgumentException e) {
            throw new FileFormatException(src, "optimizer state: " + e.getMessage(), e);
        }
        uploadArenas(model, sgd.momentumArena(), optimizer.lookSamDirection(), params, state, m, gv);
        return p;
    }

    /**
     * Loads a model's weights by name from any safetensors file ({@code --init-from}): a sam4j checkpoint or
     * export, or one written by PyTorch's {@code safetensors.torch.save_file(model.state_dict())}. Every
     * parameter must be there with its shape; running statistics are loaded where present; {@code optim.*},
     * {@code policy.*} and {@code *.num_batches_tracked} are ignored; any other tensor is an error (a wrong
     * model, most likely).
     */
    static void loadWeights(Path file, Model model, String modelName) { loadWeights(SafeTensors.read(file), model, modelName); }

    /** {@link #loadWeights(Path, Model, String)} on a file already read. */
    static void loadWeights(SafeTensors.Contents c, Model model, String modelName) {
        Path file = c.path();
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
     * the checkpoint in {@code runDir} to {@code out}: a file for PyTorch, Hugging Face or {@code --init-from},
     * with the model's name, input shape, classes and normalisation where the checkpoint has them, so that
     * {@link SavedModel#load} reads it too.
     */
    public static void exportWeights(Path runDir, Path out) {
        Path file = runDir.resolve(FILE);
        SafeTensors.Contents c = SafeTensors.read(file);
        if (!VERSION.equals(c.metadata().get(VERSION_KEY))) throw new FileFormatException(file.toString(), "not a sam4j checkpoint");
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt");
        for (Map.Entry<String, String> kv : c.metadata().entrySet()) {
            if (kv.getKey().equals("sam4j.model") || kv.getKey().equals("sam4j.config") || SavedModel.KEYS.contains(kv.getKey())) {
                w.metadata(kv.getKey(), kv.getValue());
            }
        }
        for (SafeTensors.Entry e : c.entries().values()) {
            if (e.name().startsWith("optim.") || e.name().startsWith("policy.")) continue;
            w.add(e.name(), e.shape(), tensor(c, e.name(), e.shape(), "the export"));
        }
        w.write(out);
    }
}
