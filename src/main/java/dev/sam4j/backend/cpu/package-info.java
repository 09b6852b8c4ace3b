/**
 * CPU backends: {@link dev.sam4j.backend.cpu.ScalarOps} / {@link dev.sam4j.backend.cpu.ReferenceBackend},
 * the double-precision plain-loop oracle, and {@link dev.sam4j.backend.cpu.CpuBackend}, the fast float
 * implementation on the Vector API with a cache-blocked multithreaded SGEMM. {@code jdk.incubator.vector}
 * is used nowhere outside this package.
 */
package dev.sam4j.backend.cpu;
