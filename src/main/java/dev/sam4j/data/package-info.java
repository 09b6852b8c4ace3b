/**
 * Datasets and the batches made from them. Nothing here knows about models or training.
 * <ul>
 *   <li>{@link dev.sam4j.data.Dataset}: labelled images as bytes (CHW); {@link dev.sam4j.data.DataSplit}
 *       pairs train and test with a one-line description for the run log.</li>
 *   <li>Readers, each strict about hostile files and reporting through
 *       {@link dev.sam4j.data.DataFileException}: {@link dev.sam4j.data.IdxReader} (MNIST layout, raw or
 *       gzip), {@link dev.sam4j.data.CifarReader} (CIFAR-10/100 binary), {@link dev.sam4j.data.FashionMnist}
 *       (full set from a directory, or the sample embedded in the jar). Gzip is decoded by the strict
 *       {@code GzipStream} (CRC-32 and length of every member checked, nothing allowed after the last).
 *       {@code DataFileFuzzTest} holds them to it with thousands of seeded mutations of small valid files,
 *       including a bound on what a read may allocate relative to the bytes the file really holds.</li>
 *   <li>The user's own arrays: {@link dev.sam4j.data.NpyReader} ({@code .npy}) and safetensors files
 *       (read by {@link dev.sam4j.io.SafeTensors}), checked and converted alike by
 *       {@link dev.sam4j.data.ArrayData}; options of these sources in {@link dev.sam4j.data.SourceOptions}
 *       ({@code ArrayFileFuzzTest} fuzzes them as {@code DataFileFuzzTest} does the others).</li>
 *   <li>{@link dev.sam4j.data.ImageFolder}: torchvision's ImageFolder layout, classes in torchvision's (code
 *       point) order; a streamed {@link dev.sam4j.data.Dataset} ({@link dev.sam4j.data.Dataset.Examples}):
 *       images decoded by {@code javax.imageio} on the {@link dev.sam4j.data.BatchLoader}'s decoder threads
 *       ahead of the step, kept in memory with the cache.</li>
 *   <li>{@link dev.sam4j.data.Synthetic}: seeded learnable data without files.</li>
 *   <li>{@link dev.sam4j.data.DataSpec}: the {@code --data} string parsed and loaded.</li>
 *   <li>Transformations of a training set: {@link dev.sam4j.data.LabelNoise},
 *       {@link dev.sam4j.data.Subset}.</li>
 *   <li>Bytes to floats: {@link dev.sam4j.data.Normalization}, {@link dev.sam4j.data.Augment}, and
 *       {@link dev.sam4j.data.BatchLoader}, which prefetches on a background thread into reusable buffers
 *       and gives identical batches at any prefetch depth.</li>
 * </ul>
 * All randomness is derived from explicit seeds through a small SplitMix64 so results do not depend on the
 * JDK version or on thread timing.
 */
package dev.sam4j.data;
