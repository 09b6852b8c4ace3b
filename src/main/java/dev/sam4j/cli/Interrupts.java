package dev.sam4j.cli;

import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C (SIGINT) during training. The first one asks the run to stop after its current step (it then
 * writes a checkpoint and the command exits 130); the second halts the JVM at once with 130, without
 * running shutdown hooks or closing anything: the training thread may be inside a native call, and
 * freeing its buffers under it could crash the process, while a halt lets the operating system reclaim
 * memory and device contexts whole. Checkpoints are replaced atomically, so the one on disk is then the
 * previous, complete one. Closing restores the handler that was there before.
 */
final class Interrupts implements AutoCloseable {
    private static final Signal INT = new Signal("INT");

    private final SignalHandler previous;

    private Interrupts(SignalHandler previous) { this.previous = previous; }

    static Interrupts install(Runnable requestStop) {
        return install(requestStop, System.err);
    }

    /** As {@link #install(Runnable)}, saying on {@code err}, once, when Ctrl-C handling is off and why. */
    static Interrupts install(Runnable requestStop, java.io.PrintStream err) {
        AtomicInteger count = new AtomicInteger();
        SignalHandler previous;
        try {
            previous = Signal.handle(INT, sig -> {
                if (count.incrementAndGet() == 1) {
                    System.err.println();
                    System.err.println("sam4j: interrupted: finishing the current step and writing a checkpoint (Ctrl-C again exits at once)");
                    requestStop.run();
                } else {
                    System.err.println("sam4j: interrupted again: exiting now; the previous checkpoint is intact");
                    Runtime.getRuntime().halt(130);
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // The JVM keeps SIGINT for itself (e.g. -Xrs): Ctrl-C then ends the process the default way.
            err.println("sam4j: Ctrl-C handling is off: the JVM keeps SIGINT for itself (" + e.getMessage()
                    + "); Ctrl-C ends the run without a checkpoint of the current step");
            return new Interrupts(null);
        }
        if (previous == SignalHandler.SIG_IGN) {
            // HotSpot does not install a handler for a signal that was ignored when it started (a background
            // job of a non-interactive shell, nohup): it answers "ignored" and leaves it so. Ctrl-C then does
            // nothing, so say so once instead of letting the user wait for a stop that never comes.
            err.println("sam4j: Ctrl-C handling is off: SIGINT was ignored when this process started (e.g. started as a "
                    + "background job or under nohup), so the JVM does not deliver it; kill the process to stop it (the last checkpoint written stays intact)");
            return new Interrupts(null);
        }
        return new Interrupts(previous);
    }

    @Override public void close() {
        if (previous != null) Signal.handle(INT, previous);
    }
}
