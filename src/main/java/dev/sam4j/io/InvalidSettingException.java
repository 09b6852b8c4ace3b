package dev.sam4j.io;

/**
 * A configuration value that is out of range or unknown, worded twice: for library code, naming the builder
 * method the caller wrote ({@code TrainConfig.Builder.batchSize(0): must be in [1, 65536]}, the message), and
 * for the command line, naming the option the user typed ({@code --batch-size: must be in [1, 65536], got 0},
 * {@link #commandLineMessage()}). The validation is shared, so the one that catches the problem carries both
 * names and whoever prints it picks the wording of its caller.
 */
public class InvalidSettingException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String option;
    private final String commandLineMessage;

    /**
     * @param message            the library's wording (the exception's message)
     * @param option             the command-line option, without the leading {@code --}
     * @param commandLineMessage the command line's wording
     */
    public InvalidSettingException(String message, String option, String commandLineMessage) {
        super(message);
        this.option = option;
        this.commandLineMessage = commandLineMessage;
    }

    /**
     * The usual shape: {@code owner.method(value): problem} for the library and {@code --option: problem, got value}
     * for the command line (a boolean flag's value is left out there, since the flag carries none). Strings are
     * quoted as each side writes them: {@code "x"} in Java, {@code 'x'} on the command line.
     */
    public static InvalidSettingException of(String owner, String method, String option, Object value, String problem) {
        return of(owner, method, option, value, problem, problem);
    }

    /** As {@link #of(String, String, String, Object, String)}, with the problem worded for each side (it names other settings). */
    public static InvalidSettingException of(String owner, String method, String option, Object value, String problem,
                                             String commandLineProblem) {
        String java = value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
        String cli = value instanceof Boolean ? "" : ", got " + (value instanceof String s ? "'" + s + "'" : String.valueOf(value));
        return new InvalidSettingException(owner + "." + method + "(" + java + "): " + problem, option,
                "--" + option + ": " + commandLineProblem + cli);
    }

    /** The command-line option the value came from, without the leading {@code --}. */
    public String option() { return option; }

    /** The message as the command line words it, naming the option. */
    public String commandLineMessage() { return commandLineMessage; }
}
