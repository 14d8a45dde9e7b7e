package org.rlhf4j.serve;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The roots a submitted config may name paths under. A path is resolved the way the OS would
 * open it, one name at a time: "..", then each existing prefix through its symbolic links; a
 * path that is not there yet (an output directory) keeps its remaining names as written. The
 * result must lie under a root; only its real form is used afterwards. Immutable, thread-safe.
 */
public final class PathPolicy {
  private static final int MAX_LINKS = 40;

  private final List<Path> roots;

  /** @param roots directories that must exist; relative ones are taken from the working directory */
  public PathPolicy(List<Path> roots) {
    List<Path> real = new ArrayList<>();
    for (Path r : roots) {
      try {
        real.add(r.toAbsolutePath().toRealPath());
      } catch (IOException e) {
        throw new IllegalArgumentException("allowed root " + r + " is not an existing directory");
      }
    }
    this.roots = List.copyOf(real);
  }

  public List<Path> roots() {
    return roots;
  }

  /**
   * The real path of p if it lies under a root.
   *
   * @param key the config key that holds p, for the message
   * @throws ForbiddenPathException otherwise (nothing under p has been read)
   */
  public Path check(String key, Path p) {
    Path real = resolve(p);
    for (Path root : roots) {
      if (real.startsWith(root)) return real;
    }
    throw new ForbiddenPathException(key + ": " + p + " is outside the allowed roots (" + rootList()
        + "); the service reads and writes only under --runs and --allow directories");
  }

  private String rootList() {
    return String.join(", ", roots.stream().map(Path::toString).toList());
  }

  /** p as the OS would reach it: ".." and symbolic links applied in order, from the root. */
  static Path resolve(Path p) {
    Path abs = p.toAbsolutePath();
    Path current = abs.getRoot();
    int links = 0;
    List<String> names = new ArrayList<>();
    for (Path name : abs) names.add(name.toString());
    boolean exists = true;
    for (int i = 0; i < names.size(); i++) {
      String n = names.get(i);
      if (n.equals(".")) continue;
      if (n.equals("..")) {
        if (current.getParent() != null) current = current.getParent();
        continue;
      }
      Path next = current.resolve(n);
      if (exists && Files.isSymbolicLink(next)) {
        if (++links > MAX_LINKS) throw new ForbiddenPathException(p + ": too many levels of symbolic links");
        try {
          Path target = Files.readSymbolicLink(next);
          List<String> rest = new ArrayList<>();
          for (Path t : target) rest.add(t.toString());
          names.subList(0, i + 1).clear();
          names.addAll(0, rest);
          i = -1;
          current = target.isAbsolute() ? target.getRoot() : current;
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        continue;
      }
      current = next;
      if (exists && !Files.exists(current, LinkOption.NOFOLLOW_LINKS)) exists = false;
    }
    return current;
  }
}
