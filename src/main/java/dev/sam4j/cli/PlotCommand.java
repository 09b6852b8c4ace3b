package dev.sam4j.cli;

import dev.sam4j.report.RunPlots;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sam4j plot RUN_DIR}: the per-run PNGs. */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = "Plot one finished run: accuracy and SAM fraction per epoch, loss per step, and for AE-SAM / AE-LookSAM "
                + "s_t with the threshold mu_t + c_t*sigma_t and the SAM steps. Writes PNGs into RUN_DIR/plots/.")
final class PlotCommand implements Callable<Integer> {
    @Parameters(paramLabel = "RUN_DIR", description = "a finished run directory")
    Path dir;

    @Option(names = "--out", description = "where to write the PNGs (default: RUN_DIR/plots)")
    Path out;

    @Override public Integer call() {
        List<Path> files = RunPlots.write(dir, out != null ? out : dir.resolve("plots"));
        for (Path f : files) System.out.println("wrote " + f);
        return 0;
    }
}
