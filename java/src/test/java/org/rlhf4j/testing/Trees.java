package org.rlhf4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Directory trees in tests, e.g. a run directory as a SIGKILL would leave it. */
public final class Trees {
  private Trees() {}

  /** Copies every file and folder under from to to (which must not hold them yet). */
  public static void copy(Path from, Path to) {
    try (var paths = Files.walk(from)) {
      for (Path p : paths.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
