package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * A long run must not grow: 5,000 steps of the mlp on tiny synthetic data (250 epochs, so that the
 * per-epoch work — a fresh evaluation loader and its thread, the epoch records — repeats hundreds of
 * times), with the live heap measured after a full collection every 500 steps through a listener.
 * After warm-up the heap may not grow by more than a small tolerance, and neither may direct or mapped
 * buffers nor the number of threads. After {@code close()} every thread the run started is gone, and a
 * second run (with the two-thread worker pool) keeps no more heap than the first.
 *
 * <p>The CPU backend keeps its tensors in heap arrays and allocates nothing per step (see
 * {@code CpuBackendAllocationTest}), so the heap is where a leak would show; the native side is its
 * worker threads (with their stacks) and any direct buffers, which the JDK's buffer pools count.
 */
class MemoryFlatTest {
    static final int STEPS = 5_000, WARM = 500, EVERY = 500;
    /** Growth allowed over ~3,500 steps: under 40 bytes a step, less than any object leaked per step. */
    static final long HEAP_TOLERANCE = 128 << 10;

    record Sample(long step, long heap, long direct, long directCount, long mapped, int threads) {
        @Override public String toString() {
            return String.format(Locale.ROOT, "step %5d: heap %,d B, direct %,d B in %d buffers, mapped %,d B, %d threads",
                    step, heap, direct, directCount, mapped, threads);
        }
    }

    static Sample sample(long step) {
        // Several collections: one may leave garbage behind that became unreachable during it.
        for (int i = 0; i < 3; i++) System.gc();
        // What the last collection left, pool by pool. Not the heap's current use: any thread that
        // allocates right after the collection claims a fresh TLAB (hundreds of KiB), which "used"
        // counts whole, so it jumps by that much from sample to sample.
        long heap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage afterGc = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
            if (afterGc != null) heap += afterGc.getUsed();
        }
        long direct = 0, count = 0, mapped = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) { direct = b.getMemoryUsed(); count = b.getCount(); }
            if (b.getName().startsWith("mapped")) mapped += b.getMemoryUsed();
        }
        return new Sample(step, heap, direct, count, mapped, ManagementFactory.getThreadMXBean().getThreadCount());
    }

    private static RunSummary train(int threads, int steps, List<Sample> samples) {
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:10:640:64").model("mlp").optimizer("erm")
                .batchSize(32).evalBatchSize(64).epochs(steps / 20).device("cpu").threads(threads).seed(7).build();
        try (Trainer t = new Trainer(cfg)) {
            t.addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) {
                    if ((s.step() + 1) % EVERY == 0) samples.add(sample(s.step() + 1));
                }
            });
            return t.run();
        }
    }

    @Test
    void heapBuffersAndThreadsStayFlatOverFiveThousandStepsAndAreReleasedOnClose() {
        Sample before = sample(-1);
        List<Sample> samples = new ArrayList<>();
        long t0 = System.nanoTime();
        // One thread for the long run: on a busy machine a spinning pool of two is several times slower,
        // and the pool's own lifecycle is checked by the second run below.
        RunSummary summary = train(1, STEPS, samples);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Sample afterFirst = sample(-2);
        RunSummary second = train(2, 400, new ArrayList<>());
        Sample afterSecond = sample(-3);
        samples.forEach(s -> System.out.println("MemoryFlatTest " + s));
        System.out.printf(Locale.ROOT, "MemoryFlatTest before: %s%nMemoryFlatTest after close: %s%n"
                + "MemoryFlatTest after a second run (2 threads) and close: %s%nMemoryFlatTest %d steps in %.1f s%n",
                before, afterFirst, afterSecond, summary.steps(), seconds);

        assertEquals(STEPS, summary.steps());
        assertEquals(400, second.steps());
        assertEquals(STEPS / EVERY, samples.size());
        assertEquals(WARM, samples.getFirst().step());
        // A leak raises the floor of the live heap; the lowest of the first three samples is compared with
        // the lowest of the last three, so that one odd sample does not decide.
        long early = samples.subList(0, 3).stream().mapToLong(Sample::heap).min().orElseThrow();
        long late = samples.subList(samples.size() - 3, samples.size()).stream().mapToLong(Sample::heap).min().orElseThrow();
        assertTrue(late - early <= HEAP_TOLERANCE,
                "live heap grew by " + (late - early) + " bytes between steps 500-1500 and 4000-5000: " + samples);
        Sample warm = samples.getFirst(), last = samples.getLast();
        assertTrue(last.direct() <= warm.direct() && last.directCount() <= warm.directCount(), "direct buffers grew: " + samples);
        assertTrue(last.mapped() <= warm.mapped(), "mapped buffers grew: " + samples);
        for (Sample s : samples) assertEquals(warm.threads(), s.threads(), "threads during the run: " + samples);

        // Released on close: the backend's workers and the loaders' prefetch threads are gone, and a
        // second run leaves nothing more behind than the first (what the first kept is one-time class state).
        for (Sample s : List.of(afterFirst, afterSecond)) {
            assertTrue(s.threads() <= before.threads(), "threads left after close: " + before + " -> " + s);
            assertTrue(s.direct() <= before.direct() && s.mapped() <= before.mapped(), "buffers left after close: " + before + " -> " + s);
        }
        assertTrue(afterSecond.heap() - afterFirst.heap() <= HEAP_TOLERANCE,
                "a second run kept " + (afterSecond.heap() - afterFirst.heap()) + " more bytes: " + afterFirst + " -> " + afterSecond);
    }
}
