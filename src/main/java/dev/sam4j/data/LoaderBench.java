package dev.sam4j.data;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The loader half of {@code scripts/bench --loader-only}: how many images per second sam4j's data path
 * delivers for an image folder. {@code load} is {@link ImageFolder}'s start-up (every header read, the
 * statistics' training images decoded); each {@code epoch} is the batches of one epoch (decoded on the
 * loader's decoder threads unless cached, then shuffle, crop + flip, normalise to floats), taken as fast
 * as the caller can. Give the spec {@code imagefolder[cache=off]:DIR} for streaming (every epoch decodes)
 * or {@code [cache=on]} (epochs after the first read memory). Run as
 * {@code java -cp sam4j.jar dev.sam4j.data.LoaderBench SPEC BATCH EPOCHS}; prints one line per measure.
 */
public final class LoaderBench {
    private LoaderBench() {}

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: LoaderBench DATA_SPEC BATCH EPOCHS");
            System.exit(2);
        }
        String spec = args[0];
        int batch = Integer.parseInt(args[1]), epochs = Integer.parseInt(args[2]);
        long t0 = System.nanoTime();
        DataSplit d = DataSpec.parse(spec).load();
        double decodeS = (System.nanoTime() - t0) / 1e9;
        int n = d.train().size() + d.test().size();
        System.out.printf(Locale.ROOT, "sam4j load (%s): %d images in %.3f s (%d threads)%n", spec.substring(0, Math.max(0, spec.indexOf(':'))),
                n, decodeS, Runtime.getRuntime().availableProcessors());
        Dataset train = d.train();
        Normalization norm = Normalization.fit(train);
        boolean crop = train.height() == 32 && train.width() == 32;
        try (BatchLoader loader = BatchLoader.builder(train).batchSize(batch).normalization(norm).seed(1)
                .augment(crop ? Augment.cropFlip(4) : Augment.none()).build()) {
            double best = 0;
            for (int e = 0; e < epochs; e++) {
                long s = System.nanoTime();
                long images = 0;
                double sink = 0;
                try (BatchLoader.Epoch it = loader.epoch(e)) {
                    BatchLoader.Batch b;
                    while ((b = it.next()) != null) {
                        images += b.n();
                        sink += b.x()[0];
                        b.close();
                    }
                }
                double secs = (System.nanoTime() - s) / 1e9;
                best = Math.max(best, images / secs);
                System.out.printf(Locale.ROOT, "sam4j epoch %d: %d images in %.3f s = %.0f images/s%s (checksum %.3f)%n", e, images, secs,
                        images / secs, crop ? ", crop+flip" : "", sink);
            }
            System.out.printf(Locale.ROOT, "sam4j epoch best: %.0f images/s%n", best);
        }
    }
}
