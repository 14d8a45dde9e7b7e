package org.rlhf4j.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes an output file through a temp sibling and a rename, so the target is either the old
 * file or the whole new one, never a torn one (e.g. after Ctrl-C). Stateless.
 */
final class AtomicFile {
  private AtomicFile() {}

  /** Writes the content body produces to target (parent directories created). */
  interface Body {
    void write(BufferedWriter out) throws IOException;
  }

  static void write(Path target, Body body) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    // A sibling, so the rename stays on one file system.
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
    try {
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        body.write(w);
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
