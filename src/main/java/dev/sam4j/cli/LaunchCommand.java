package dev.sam4j.cli;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sam4j launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] train ...}: starts
 * this machine's N ranks of a job of N·M as child JVMs, each with torchrun's variables ({@code RANK},
 * {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}), so a
 * launched process cannot tell it from torchrun. Exits with the first failing rank's code once every child has ended;
 * a child still running a grace period after another failed is ended (SIGTERM, then SIGKILL).
 */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Start this machine's ranks of a data-parallel job as child processes (like torchrun): launch --nproc-per-node N train ...")
final class LaunchCommand implements Callable<Integer> {
    static final long GRACE_SECONDS = 30;

    @Option(names = "--nproc-per-node", required = true, paramLabel = "N", description = "ranks (processes) on this machine")
    int nprocPerNode;

    @Option(names = "--nnodes", paramLabel = "M", description = "machines in the job")
    int nnodes = 1;

    @Option(names = "--node-rank", paramLabel = "R", description = "this machine's index in [0, M)")
    int nodeRank = 0;

    @Option(names = "--master-addr", paramLabel = "A", description = "rank 0's host (the rendezvous address)")
    String masterAddr = "127.0.0.1";

    @Option(names = "--master-port", paramLabel = "P", description = "the rendezvous port on rank 0's host")
    int masterPort = 29500;

    @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "the sam4j command each rank runs (train ...)")
    List<String> command;

    @Override public Integer call() throws Exception {
        if (nprocPerNode < 1) throw new IllegalArgumentException("--nproc-per-node: must be >= 1, got " + nprocPerNode);
        if (nnodes < 1) throw new IllegalArgumentException("--nnodes: must be >= 1, got " + nnodes);
        if (nodeRank < 0 || nodeRank >= nnodes) throw new IllegalArgumentException("--node-rank: must be in [0, " + nnodes + "), got " + nodeRank);
        if (masterPort < 1 || masterPort > 65535) throw new IllegalArgumentException("--master-port: must be in [1, 65535], got " + masterPort);
        if (!command.get(0).equals("train")) throw new IllegalArgumentException("launch: the command must be train, got '" + command.get(0) + "'");
        int world = nprocPerNode * nnodes;
        List<String> jvm = new ArrayList<>();
        jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp")) jvm.add(a);   // a debugger port cannot be shared by the children
        }
        jvm.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        jvm.addAll(command);
        List<Process> children = new ArrayList<>();
        Thread reaper = new Thread(() -> children.forEach(Process::destroyForcibly));
        Runtime.getRuntime().addShutdownHook(reaper);
        try {
            for (int i = 0; i < nprocPerNode; i++) {
                ProcessBuilder pb = new ProcessBuilder(jvm).inheritIO();
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(nodeRank * nprocPerNode + i));
                env.put("WORLD_SIZE", Integer.toString(world));
                env.put("LOCAL_RANK", Integer.toString(i));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(nprocPerNode));
                env.put("MASTER_ADDR", masterAddr);
                env.put("MASTER_PORT", Integer.toString(masterPort));
                children.add(pb.start());
            }
            return await(children);
        } finally {
            for (Process p : children) p.destroyForcibly();
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    /** Waits for every child; the first non-zero exit code wins; the others get a grace period after a failure. */
    static int await(List<Process> children) throws InterruptedException {
        int code = 0;
        long failedAt = 0;
        while (true) {
            boolean alive = false;
            for (Process p : children) {
                if (p.isAlive()) {
                    alive = true;
                } else if (p.exitValue() != 0 && code == 0) {
                    code = p.exitValue();
                    failedAt = System.nanoTime();
                }
            }
            if (!alive) return code;
            if (code != 0 && System.nanoTime() - failedAt > TimeUnit.SECONDS.toNanos(GRACE_SECONDS)) {
                for (Process p : children) p.destroy();
                for (Process p : children) if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly();
            }
            Thread.sleep(50);
        }
    }
}
