package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/bench refuses what it cannot run in one line on stderr, with exit status 2. */
class PpoBenchErrorsTest {
  @TempDir Path dir;

  @Test
  void aNativeLibraryItCannotLoadIsOneLine() throws Exception {
    Path missing = dir.resolve("librlhf4j.so");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-Drlhf4j.native=" + missing, "-cp",
        System.getProperty("java.class.path"), PpoBench.class.getName(), "--layers", "1")
        .redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the bench did not exit: " + output);
    } finally {
      p.destroyForcibly();
    }
    assertEquals(2, p.exitValue(), output);
    assertEquals(1, output.lines().count(), output);
    assertTrue(output.startsWith("bench: ") && output.contains(missing.toString()), output);
  }
}
