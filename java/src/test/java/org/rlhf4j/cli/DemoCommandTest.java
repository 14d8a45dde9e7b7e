package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** demo's --task: a wrong task or an option of the other task is a one-line usage error, and nothing is written. */
class DemoCommandTest {
  @TempDir Path tmp;

  @Test
  void anUnknownTaskIsAUsageError() {
    Cli run = Cli.run("demo", "--task", "chess", "--out", tmp.resolve("d").toString());
    assertEquals(Main.USAGE, run.code(), run.toString());
    assertTrue(run.err().contains("--task must be one of review|tools, got 'chess'"), run.toString());
    assertFalse(tmp.resolve("d").toFile().exists());
  }

  @Test
  void theReviewTasksOptionsAreRefusedWithTools() {
    Cli run = Cli.run("demo", "--task", "tools", "--algo", "dpo", "--out", tmp.resolve("d").toString());
    assertEquals(Main.USAGE, run.code(), run.toString());
    assertTrue(run.err().contains("--algo applies to --task review only"), run.toString());
    assertFalse(tmp.resolve("d").toFile().exists());
  }
}
