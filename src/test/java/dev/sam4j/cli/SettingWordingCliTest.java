package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line words the library's validation with its own options, never the builder methods. */
class SettingWordingCliTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--batch-size=0           | --batch-size: must be in [1, 65536], got 0",
        "--eval-batch-size=0      | --eval-batch-size: must be in [1, 65536], got 0",
        "--augment=maybe          | --augment: must be auto, on or off, got 'maybe'",
        "--rho=0                  | --rho: must be > 0, got 0.0",
        "--looksam-k=0            | --looksam-k: must be >= 1, got 0",
        "--optimizer=adamw        | --optimizer adamw: unknown optimizer; valid: erm, sam",
        "--model=resnet99         | --model resnet99: unknown model; valid names: mlp",
        "--on-nonfinite=ignore    | --on-nonfinite: must be stop or skip, got 'ignore'",
    })
    void optionsAreNamedAsTyped(String option, String expected) {
        // The data does not exist: each of these is refused before anything is read.
        MainTest.Outcome o = MainTest.run("train", option.trim(), "--data", "cifar10:/nonexistent/dir", "--device", "cpu");
        MainTest.assertOneLineError(o, "sam4j: error: " + expected.trim());
        assertFalse(o.err().contains("Builder"), o.err());
    }

    @org.junit.jupiter.api.Test
    void nesterovWithoutMomentumNamesBothOptions() {
        MainTest.Outcome o = MainTest.run("train", "--nesterov", "--momentum", "0", "--device", "cpu");
        MainTest.assertOneLineError(o, "sam4j: error: --nesterov: needs --momentum > 0\n");
    }
}
