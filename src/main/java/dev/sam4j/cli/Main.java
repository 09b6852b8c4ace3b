package dev.sam4j.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code sam4j} command line. Errors in user input (options, data files, model names) end the
 * process with one line naming the option or file and what is wrong and a non-zero exit, never a stack
 * trace; {@code SAM4J_DEBUG=1} adds the trace for bug reports.
 */
@Command(name = "sam4j", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
        description = "Sharpness-aware training on the JVM.",
        subcommands = {TrainCommand.class, LaunchCommand.class, EvalCommand.class, ExportCommand.class, InfoCommand.class, BenchCommand.class, BenchReportCommand.class,
                CompareCommand.class, PlotCommand.class, ReportCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Override public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.getSubcommands().get("launch").setStopAtPositional(true);   // everything from "train" on is the ranks' command
        cl.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("sam4j: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            err.flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            err.println("sam4j: error: " + describe(ex));
            if ("1".equals(System.getenv("SAM4J_DEBUG"))) ex.printStackTrace(err);
            err.flush();
            return 1;
        });
        return cl.execute(args);
    }

    /** One line for an exception: its message, or its type when it has none, following causes. */
    static String describe(Throwable t) {
        Throwable c = t;
        while ((c.getMessage() == null || c.getMessage().isBlank()) && c.getCause() != null) c = c.getCause();
        // The library names a bad setting by its builder method; here it is the option the user typed.
        if (c instanceof dev.sam4j.io.InvalidSettingException s) return s.commandLineMessage();
        String msg = c.getMessage();
        if (c instanceof OutOfMemoryError) return "out of memory (" + msg + "); try a smaller --batch-size or a larger -Xmx (SAM4J_JAVA_OPTS)";
        return msg == null || msg.isBlank() ? c.getClass().getSimpleName() : msg;
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override public String[] getVersion() { return new String[] {"sam4j " + dev.sam4j.train.Version.get()}; }
    }
}
