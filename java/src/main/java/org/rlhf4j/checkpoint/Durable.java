package org.rlhf4j.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Crash-safe directory publication: build a directory under a temporary name next to its
 * target, fsync every file and directory in it, rename it into place, fsync the parent.
 * A crash leaves either the old state or the new one, plus at worst a {@code .tmp-*}
 * directory to clean up. Linux semantics (fsync on directories, atomic rename).
 */
final class Durable {
  static final String TEMP_PREFIX = ".tmp-";

  private Durable() {}

  /** Creates an empty {@code .tmp-<name>-<random>} directory beside target. */
  static Path createTempDirFor(Path target) throws IOException {
    Path parent = parentOf(target);
    Files.createDirectories(parent);
    while (true) {
      Path temp = parent.resolve(TEMP_PREFIX + target.getFileName() + "-" + random());
      try {
        return Files.createDirectory(temp);
      } catch (FileAlreadyExistsException e) {
        // Another temp directory drew the same name: draw again.
      }
    }
  }

  /** Fsyncs every regular file and directory under root, root last. */
  static void syncTree(Path root) throws IOException {
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (attrs.isRegularFile()) sync(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) throw e;
        sync(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /**
   * Renames the finished temp directory to target. An existing target is an error unless
   * replace, in which case it is moved aside first and deleted once the new one is in place.
   */
  static void publish(Path temp, Path target, boolean replace) throws IOException {
    Path parent = parentOf(target);
    Path old = null;
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      if (!replace) throw new CheckpointException(target + " already exists");
      old = parent.resolve(TEMP_PREFIX + target.getFileName() + "-old-" + random());
      Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
    sync(parent);
    if (old != null) deleteTree(old);
  }

  /** Deletes path and everything under it, never following symbolic links. */
  static void deleteTree(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) return;
    Files.walkFileTree(path, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) throw e;
        Files.delete(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  static void sync(Path path) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
      channel.force(true);
    }
  }

  private static Path parentOf(Path target) {
    Path parent = target.toAbsolutePath().getParent();
    if (parent == null) throw new IllegalArgumentException("cannot publish the root directory " + target);
    return parent;
  }

  private static String random() {
    return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  }
}
