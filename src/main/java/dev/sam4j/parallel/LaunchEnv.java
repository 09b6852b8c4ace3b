package dev.sam4j.parallel;

import java.util.Map;

/**
 * Where this process stands in a job started by a launcher: torchrun's variables ({@code RANK}, {@code WORLD_SIZE},
 * {@code LOCAL_RANK}, {@code MASTER_ADDR}, {@code MASTER_PORT}, also set by {@code sam4j launch}) or Slurm's
 * ({@code SLURM_PROCID}, {@code SLURM_NTASKS}, {@code SLURM_LOCALID}, with {@code MASTER_ADDR} and {@code MASTER_PORT}
 * given by the job script). {@code source} names the variables read, for messages.
 */
public record LaunchEnv(int rank, int worldSize, int localRank, String masterAddr, int masterPort, String source) {

    public LaunchEnv {
        if (worldSize < 1) throw new IllegalArgumentException(source + ": world size must be >= 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException(source + ": rank " + rank + " is not in [0, " + worldSize + ")");
        if (localRank < 0) throw new IllegalArgumentException(source + ": local rank must be >= 0, got " + localRank);
        if (masterAddr == null || masterAddr.isBlank()) throw new IllegalArgumentException(source + ": MASTER_ADDR is not set");
        if (masterPort < 1 || masterPort > 65535) throw new IllegalArgumentException(source + ": MASTER_PORT must be in [1, 65535], got " + masterPort);
    }

    /**
     * The launcher's variables in {@code env}, or null when none is set (a process of its own). torchrun's win over
     * Slurm's when both are set (torchrun inside an allocation). A variable that is set but not a number, or missing
     * while the others are set, is one error naming it.
     */
    public static LaunchEnv from(Map<String, String> env) {
        if (env.containsKey("RANK") || env.containsKey("WORLD_SIZE")) {
            int world = number(env, "WORLD_SIZE");
            return new LaunchEnv(number(env, "RANK"), world, env.containsKey("LOCAL_RANK") ? number(env, "LOCAL_RANK") : 0,
                    master(env, "torchrun (RANK, WORLD_SIZE)"), port(env, "torchrun (RANK, WORLD_SIZE)"), "torchrun (RANK, WORLD_SIZE)");
        }
        if (env.containsKey("SLURM_PROCID") && env.containsKey("SLURM_NTASKS")) {
            String src = "Slurm (SLURM_PROCID, SLURM_NTASKS)";
            int world = number(env, "SLURM_NTASKS");
            if (world == 1 && !env.containsKey("MASTER_ADDR")) return null;   // a one-task allocation: a process of its own
            return new LaunchEnv(number(env, "SLURM_PROCID"), world, env.containsKey("SLURM_LOCALID") ? number(env, "SLURM_LOCALID") : 0,
                    master(env, src), port(env, src), src);
        }
        return null;
    }

    private static int number(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null) throw new IllegalArgumentException(name + " is not set (the launcher sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "=" + v + ": not a number");
        }
    }

    private static String master(Map<String, String> env, String src) {
        String a = env.get("MASTER_ADDR");
        if (a == null || a.isBlank()) throw new IllegalArgumentException(src + ": MASTER_ADDR is not set (the address of rank 0's host)");
        return a.trim();
    }

    /**
     * The rendezvous port: {@code SAM4J_MASTER_PORT} when set; else {@code MASTER_PORT}, or {@code MASTER_PORT + 1} when
     * torchrun says its agent already serves its own store on {@code MASTER_PORT}
     * ({@code TORCHELASTIC_USE_AGENT_STORE=True}), which rank 0 could then not listen on.
     */
    private static int port(Map<String, String> env, String src) {
        if (env.get("SAM4J_MASTER_PORT") != null) return number(env, "SAM4J_MASTER_PORT");
        if ("true".equalsIgnoreCase(env.getOrDefault("TORCHELASTIC_USE_AGENT_STORE", "").trim())) return number(env, "MASTER_PORT") + 1;
        if (env.get("MASTER_PORT") == null) throw new IllegalArgumentException(src + ": MASTER_PORT is not set (a free TCP port on rank 0's host)");
        return number(env, "MASTER_PORT");
    }
}
