package dev.sam4j.cli;

import dev.sam4j.train.Checkpoint;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sam4j export}: a run's model weights as a file other tools (and {@code --init-from}) read. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false, showDefaultValues = true,
        description = "Write the model weights of a run's checkpoint (PyTorch tensor names, no optimizer state) to a file "
                + "that PyTorch, Hugging Face's safetensors and 'sam4j train --init-from' read.")
final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_DIR", description = "run directory with a checkpoint.safetensors")
    Path runDir;

    @Option(names = "--format", description = "output format: safetensors")
    String format = "safetensors";

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "file to write (replaced atomically)")
    Path out;

    @Override public Integer call() {
        if (!format.trim().toLowerCase(Locale.ROOT).equals("safetensors")) {
            throw new IllegalArgumentException("--format: only safetensors is supported, got '" + format + "'");
        }
        Checkpoint.exportWeights(runDir, out);
        System.out.println("wrote " + out);
        return 0;
    }
}
