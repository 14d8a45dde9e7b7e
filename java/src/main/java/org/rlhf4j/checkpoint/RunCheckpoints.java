package org.rlhf4j.checkpoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The checkpoints of a training run: {@code RUN/checkpoints/iter-000010/}, ... Saving writes
 * the new checkpoint atomically, then removes leftovers of interrupted saves and all but the
 * newest {@code keepLast} complete checkpoints. A checkpoint is complete when it holds the
 * {@link Checkpoint#COMPLETE} marker; temp directories and marker-less ones are ignored by
 * {@link #latest()} and deleted by {@link #removeIncomplete()}.
 *
 * <p>Assumes one writer per run directory. Not thread-safe.
 */
public final class RunCheckpoints {
  public static final String DIR = "checkpoints";
  private static final Pattern NAME = Pattern.compile("iter-(\\d{1,18})");
  /** A temp directory of {@link Durable}: ".tmp-" + target name + "-" [+ "old-"] + 8 hex digits. */
  private static final Pattern TEMP = Pattern.compile("\\.tmp-(iter-\\d{1,18})-(?:old-)?[0-9a-f]{8}");

  private final Path root;
  private final int keepLast;

  /** keepLast: how many complete checkpoints survive a save (at least 1). */
  public RunCheckpoints(Path runDir, int keepLast) {
    if (keepLast < 1) throw new IllegalArgumentException("keep-last must be at least 1, got " + keepLast);
    this.root = runDir.resolve(DIR);
    this.keepLast = keepLast;
  }

  /** RUN/checkpoints. */
  public Path root() {
    return root;
  }

  /** Where iteration's checkpoint goes: iter-NNNNNN. */
  public Path pathFor(long iteration) {
    if (iteration < 0) throw new IllegalArgumentException("iteration must be >= 0, got " + iteration);
    return root.resolve(String.format("iter-%06d", iteration));
  }

  /**
   * Writes iteration's checkpoint (replacing one of the same iteration), then deletes
   * incomplete leftovers and the oldest complete checkpoints beyond keepLast. Returns its path.
   */
  public Path save(long iteration, CheckpointWriter writer) {
    Path target = pathFor(iteration);
    removeIncomplete();
    writer.writeTo(target, true);
    List<Path> complete = complete();
    for (int i = 0; complete.size() - i > keepLast; i++) {
      if (!complete.get(i).equals(target)) delete(complete.get(i));
    }
    return target;
  }

  /** The complete checkpoints, oldest iteration first. */
  public List<Path> complete() {
    TreeMap<Long, Path> byIteration = new TreeMap<>();
    for (Path p : entries()) {
      Matcher m = NAME.matcher(p.getFileName().toString());
      if (m.matches() && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && Checkpoint.isComplete(p)) {
        byIteration.put(Long.parseLong(m.group(1)), p);
      }
    }
    return new ArrayList<>(byIteration.values());
  }

  /** The newest complete checkpoint, if any. */
  public Optional<Path> latest() {
    List<Path> complete = complete();
    return complete.isEmpty() ? Optional.empty() : Optional.of(complete.getLast());
  }

  /**
   * Deletes temp directories and checkpoint directories without the marker; returns them. One
   * case is repaired instead: a crash while a save replaced a checkpoint of the same iteration
   * can leave that iteration only as a complete temp directory, which is renamed back into place
   * (the new version preferred over the old).
   */
  public List<Path> removeIncomplete() {
    List<Path> removed = new ArrayList<>();
    List<Path> entries = entries();
    // New versions (".tmp-iter-N-XXXXXXXX") sort before old ones (".tmp-iter-N-old-XXXXXXXX").
    entries.sort(Comparator.comparing((Path p) -> p.getFileName().toString().contains("-old-")).thenComparing(p -> p));
    for (Path p : entries) {
      String name = p.getFileName().toString();
      Matcher temp = TEMP.matcher(name);
      if (temp.matches() && Checkpoint.isComplete(p) && !Files.exists(root.resolve(temp.group(1)), LinkOption.NOFOLLOW_LINKS)) {
        restore(p, root.resolve(temp.group(1)));
        continue;
      }
      boolean partial = NAME.matcher(name).matches() && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
          && !Checkpoint.isComplete(p);
      if (name.startsWith(Durable.TEMP_PREFIX) || partial) {
        delete(p);
        removed.add(p);
      }
    }
    removed.sort(Comparator.naturalOrder());
    return removed;
  }

  private static void restore(Path temp, Path target) {
    try {
      Durable.publish(temp, target, false);
    } catch (IOException e) {
      throw new CheckpointException("cannot restore " + temp + " to " + target + ": " + Messages.oneLine(e.toString()), e);
    }
  }

  private List<Path> entries() {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(root)) return out;
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(root)) {
      dir.forEach(out::add);
    } catch (IOException e) {
      throw new CheckpointException("cannot list " + root + ": " + Messages.oneLine(e.toString()), e);
    }
    return out;
  }

  /**
   * Deletes a checkpoint or temp directory, its marker first (made durable before the rest
   * goes): a crash half way then leaves an incomplete directory, never one that claims to be
   * complete with files missing.
   */
  private static void delete(Path p) {
    try {
      if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && Files.deleteIfExists(p.resolve(Checkpoint.COMPLETE))) {
        Durable.sync(p);
      }
      Durable.deleteTree(p);
    } catch (IOException e) {
      throw new CheckpointException("cannot delete " + p + ": " + Messages.oneLine(e.toString()), e);
    }
  }
}
