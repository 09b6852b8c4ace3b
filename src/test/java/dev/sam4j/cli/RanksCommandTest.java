package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code sam4j train --ranks N} and {@code sam4j launch}: a run in one process, and the refusals, each one line. */
class RanksCommandTest {
    static final String[] SMALL = {"train", "--data", "synthetic:1,8,8:4:320:32", "--model", "mlp", "--batch-size", "16",
            "--eval-batch-size", "32", "--device", "cpu", "--threads", "1"};

    static String[] args(Path dir, String... more) {
        List<String> a = new ArrayList<>(List.of(SMALL));
        a.addAll(List.of("--out", dir.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void twoRanksInOneProcessWriteOneRunDirectory(@TempDir Path dir) throws Exception {
        MainTest.Outcome o = MainTest.run(args(dir, "--epochs", "1", "--ranks", "2", "--optimizer", "aesam"));
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("host-driven step on 2 data-parallel ranks in this process (threads), --sam-perturbation local"), o.out());
        for (String f : List.of("config.json", "steps.jsonl", "summary.json", "checkpoint.safetensors")) assertTrue(Files.exists(dir.resolve(f)), f);
        assertEquals(20, Files.readAllLines(dir.resolve("steps.jsonl")).size(), "320 / 16 global steps, each recorded once");
        // --ranks may change on resume, and is validated against the run's global batch
        MainTest.Outcome r = MainTest.run("train", "--resume", dir.toString(), "--ranks", "3");
        MainTest.assertOneLineError(r, "--batch-size: the global batch 16 does not divide by --ranks 3");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--ranks=0                                  | --ranks: must be in [1, 1024]",
        "--ranks=2 --sam-perturbation=sideways      | --sam-perturbation: must be local or global",
        "--ranks=3                                  | --batch-size: the global batch 16 does not divide by --ranks 3",
        "--ranks=2 --keep-last-batch                | --keep-last-batch: with --ranks 2",
        "--ranks=2 --optimizer=looksam              | use --sam-perturbation global",
        "--ranks=2 --optimizer=esam                 | --esam-sds",
    })
    void refusals(String options, String message, @TempDir Path dir) {
        MainTest.assertOneLineError(MainTest.run(args(dir, options.trim().split(" +"))), message);
    }

    @Test
    void launchRunsTrainOnly() {
        MainTest.assertOneLineError(MainTest.run("launch", "--nproc-per-node", "2", "eval", "runs/x"), "the command must be train");
        MainTest.assertOneLineError(MainTest.run("launch", "--nproc-per-node", "0", "train"), "--nproc-per-node: must be >= 1");
    }
}
