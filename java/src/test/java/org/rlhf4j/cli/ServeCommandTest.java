package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** rlhf4j serve's options; the service itself is tested in org.rlhf4j.serve. */
class ServeCommandTest {
  @TempDir Path dir;

  @Test
  void helpNamesTheOptionsAndABadAllowIsAUsageErrorBeforeAnythingStarts() {
    Cli help = Cli.run("serve", "--help");
    assertEquals(0, help.code(), help::toString);
    for (String option : new String[] {"--host", "--port", "--runs", "--token-file", "--allow", "--max-body"}) {
      assertTrue(help.out().contains(option), option);
    }
    Path runs = dir.resolve("runs");
    Cli bad = Cli.run("serve", "--runs", runs.toString(), "--allow", dir.resolve("missing").toString());
    assertEquals(Main.USAGE, bad.code(), bad::toString);
    assertTrue(bad.err().contains("--allow " + dir.resolve("missing") + " is not a directory"), bad::toString);
    assertFalse(Files.exists(runs));
    Cli port = Cli.run("serve", "--runs", runs.toString(), "--port", "70000");
    assertEquals(Main.USAGE, port.code(), port::toString);
    assertTrue(port.err().contains("--port must be 0-65535"), port::toString);
  }
}
