package org.rlhf4j.checkpoint;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model lives, given what a user passes as --model or model.path: a model directory
 * (with config.json) as is, or a run directory, whose newest complete checkpoint is taken.
 * Stateless and thread-safe.
 */
public final class ModelDirs {
  private ModelDirs() {}

  public static Path resolve(Path dir) {
    if (Files.isRegularFile(dir.resolve(Checkpoint.CONFIG))) return dir;
    if (!Files.isDirectory(dir)) throw new CheckpointException(dir + ": no such directory");
    return new RunCheckpoints(dir, Integer.MAX_VALUE).latest().orElseThrow(() -> new CheckpointException(dir
        + ": neither a model directory (no " + Checkpoint.CONFIG + ") nor a run directory with a complete checkpoint"));
  }
}
