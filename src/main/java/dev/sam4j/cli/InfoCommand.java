package dev.sam4j.cli;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.train.Version;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sam4j info}: the machine, and which backend would be chosen and why. */
@Command(name = "info", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Print the Java runtime, the CPU, and the backend choice with its reason.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--device", description = "auto, cpu, cpu-reference, cuda[:N]")
    String device = "auto";

    @Option(names = "--threads", description = "CPU threads")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override public Integer call() {
        System.out.println("sam4j " + Version.get());
        System.out.println("java: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        System.out.println("os: " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", " + Runtime.getRuntime().availableProcessors() + " processors, max heap "
                + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
        for (String line : Backends.describeCuda()) System.out.println(line);
        Backends.Choice c = Backends.choose(device, threads);
        try (Backend b = c.backend()) {
            System.out.println("backend: " + b.name() + " (" + c.reason() + ")");
            System.out.println("  " + b.describe());
        }
        return 0;
    }
}
