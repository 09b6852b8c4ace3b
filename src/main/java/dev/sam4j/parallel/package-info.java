/**
 * Data parallelism's one shared operation set: {@link dev.sam4j.parallel.Collective} (all-reduce of a buffer region
 * and of a few doubles, broadcast, barrier) with a single-rank identity ({@link dev.sam4j.parallel.SingleRank}) and an
 * in-process group of threads ({@link dev.sam4j.parallel.InProcessGroup}) whose reductions are deterministic and
 * bitwise identical on every rank, ranks as processes over TCP ({@link dev.sam4j.parallel.TcpCollective}, with the
 * launchers' variables in {@link dev.sam4j.parallel.LaunchEnv}), and CUDA ranks whose device buffers move over NCCL
 * ({@link dev.sam4j.parallel.NcclCollective}, through the backend floor's {@code DeviceCollective}). On the floor just above {@code backend} (it moves {@code Buffer}s), below
 * {@code optim}, whose data-parallel SAM step uses it.
 */
package dev.sam4j.parallel;
