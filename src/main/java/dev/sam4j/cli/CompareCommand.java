package dev.sam4j.cli;

import dev.sam4j.report.CompareTable;
import dev.sam4j.report.RunRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code sam4j compare RUN_DIR...}: finished runs side by side. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Print finished runs side by side: method, model, training examples, noise, seed, test accuracy, SAM fraction, wall time. "
                + "A directory that is not itself a run stands for the finished runs directly inside it.")
final class CompareCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "RUN_DIR", description = "run directories (or directories of run directories)")
    List<Path> dirs;

    @Override public Integer call() throws IOException {
        List<RunRecord> runs = new ArrayList<>();
        for (Path d : dirs) {
            if (Files.isDirectory(d) && !Files.exists(d.resolve("config.json"))) {
                // A grid section: its finished runs, in name order (unfinished ones are not comparable yet).
                List<Path> inside;
                try (Stream<Path> s = Files.list(d)) {
                    inside = s.filter(RunRecord::isFinished).sorted().toList();
                }
                if (inside.isEmpty()) throw new IllegalArgumentException(d + ": neither a run directory nor a directory of finished runs");
                inside.forEach(p -> runs.add(RunRecord.load(p)));
            } else {
                runs.add(RunRecord.load(d));
            }
        }
        System.out.print(CompareTable.format(runs));
        return 0;
    }
}
