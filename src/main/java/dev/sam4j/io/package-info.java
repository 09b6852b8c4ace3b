/**
 * Files the project writes and reads back itself: a JSON writer ({@link dev.sam4j.io.Json}) and a strict JSON
 * reader ({@link dev.sam4j.io.JsonReader}) for its own records, atomic replacement of a file ({@link dev.sam4j.io.AtomicFiles}), and
 * the safetensors format ({@link dev.sam4j.io.SafeTensors}) used for checkpoints and exported weights.
 * Every reader treats its input as hostile: a bad file ends in one {@link dev.sam4j.io.FileFormatException}
 * naming the file and the problem, never in a huge allocation or an unchecked exception.
 * Nothing here knows about models or training.
 */
package dev.sam4j.io;
