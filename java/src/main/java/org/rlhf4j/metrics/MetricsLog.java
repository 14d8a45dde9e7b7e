package org.rlhf4j.metrics;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends one JSON object per iteration to metrics.jsonl, so that a crash never loses or tears
 * an entry that was already logged.
 *
 * <p>Each {@link #append} writes the whole line and its newline in one write, then fsyncs: a
 * process killed at any moment leaves at worst an incomplete last line. Opening for append
 * ({@link #open}, {@link #resume}) drops such a line; {@link #resume} also drops the entries of
 * iterations that will be redone. Iterations must increase from line to line. Non-finite values
 * are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
 *
 * <p>Each open log also writes a {@link TensorBoardWriter} event file beside it with the same
 * values (a view for TensorBoard; this file stays the source of truth).
 *
 * <p>Holds an exclusive lock on the file while open, so a second writer (in this or another
 * process) fails at open instead of interleaving lines. Thread-safe: appends are serialised.
 */
public final class MetricsLog implements AutoCloseable {
  /** The conventional file name inside a run directory. */
  public static final String FILE_NAME = "metrics.jsonl";

  private static final Logger log = LoggerFactory.getLogger(MetricsLog.class);

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;
  private long lastIteration;
  private TensorBoardWriter events;

  private MetricsLog(Path file, FileChannel channel, FileLock lock, long lastIteration) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
    this.lastIteration = lastIteration;
    this.events = openEvents(file, lastIteration);
  }

  /** The TensorBoard view beside the log; a failure there only costs the view, never the run. */
  private static TensorBoardWriter openEvents(Path file, long lastIteration) {
    try {
      return TensorBoardWriter.create(file.toAbsolutePath().getParent(), lastIteration + 1);
    } catch (IOException e) {
      log.warn("{}: cannot write TensorBoard events beside it ({}); metrics.jsonl is unaffected", file,
          e.getMessage());
      return null;
    }
  }

  /** Starts an empty log for a new run, discarding any entries the file had. */
  public static MetricsLog create(Path file) throws IOException {
    return open(file, Mode.CREATE, Long.MAX_VALUE);
  }

  /** Opens the log to append after its last complete entry (dropping a torn last line). */
  public static MetricsLog open(Path file) throws IOException {
    return open(file, Mode.APPEND, Long.MAX_VALUE);
  }

  /**
   * Opens the log to continue a run resumed from the checkpoint of {@code lastIteration}: drops
   * a torn last line and every entry from the first one whose iteration is greater than
   * {@code lastIteration} on, since those iterations will be run again.
   */
  public static MetricsLog resume(Path file, long lastIteration) throws IOException {
    if (lastIteration < -1) {
      throw new IllegalArgumentException(file + ": cannot resume after iteration " + lastIteration);
    }
    return open(file, Mode.APPEND, lastIteration);
  }

  /**
   * Reads every complete entry. Ignores an incomplete or unparseable last line (a writer may be
   * in the middle of it, or was killed there).
   *
   * @throws IOException if the file cannot be read, or a line before the last is not a metrics
   *     entry (the message names file, line and reason)
   */
  public static List<MetricsRecord> read(Path file) throws IOException {
    return MetricsScan.of(file, Files.readAllBytes(file)).records();
  }

  /** A run directory's entries ({@link #read} of its {@link #FILE_NAME}); none when it has no such file. */
  public static List<MetricsRecord> readRun(Path runDir) throws IOException {
    Path file = runDir.resolve(FILE_NAME);
    return Files.isRegularFile(file) ? read(file) : List.of();
  }

  private enum Mode { CREATE, APPEND }

  private static MetricsLog open(Path file, Mode mode, long keepThrough) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      FileLock lock = lock(file, ch);
      long last = mode == Mode.CREATE ? truncate(ch, 0) : repair(file, ch, keepThrough);
      ch.position(ch.size());
      return new MetricsLog(file, ch, lock, last);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static FileLock lock(Path file, FileChannel ch) throws IOException {
    try {
      FileLock lock = ch.tryLock();
      if (lock != null) return lock;
    } catch (OverlappingFileLockException e) {
      // Another MetricsLog in this JVM holds it: same answer as another process.
    }
    throw new IOException(file + ": already open for writing by another metrics log");
  }

  /** Cuts the file to its kept prefix; returns the last kept iteration, -1 if none. */
  private static long repair(Path file, FileChannel ch, long keepThrough) throws IOException {
    ByteBuffer all = ByteBuffer.allocate(Math.toIntExact(ch.size()));
    while (all.hasRemaining() && ch.read(all, all.position()) >= 0) {
      // A short read only means "call again".
    }
    MetricsScan.Cut cut = MetricsScan.of(file, Arrays.copyOf(all.array(), all.position())).cutAfter(keepThrough);
    long size = ch.size();
    if (cut.end() < size || cut.needsNewline()) {
      if (cut.tornBytes() > 0) {
        log.warn("{}: dropped an incomplete last line ({} bytes) left by an interrupted run", file, cut.tornBytes());
      }
      if (cut.dropped() > 0) {
        log.info("{}: dropped {} entries after iteration {} (they will be run again)", file, cut.dropped(),
            keepThrough);
      }
      ch.truncate(cut.end());
      if (cut.needsNewline()) writeFully(ch, ByteBuffer.wrap(new byte[] {'\n'}), cut.end());
      ch.force(true);
    }
    return cut.lastIteration();
  }

  private static long truncate(FileChannel ch, long size) throws IOException {
    ch.truncate(size);
    ch.force(true);
    return -1;
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf, long at) throws IOException {
    long pos = at;
    while (buf.hasRemaining()) pos += ch.write(buf, pos);
  }

  /** Appends the metrics of one iteration; iterations must increase from call to call. */
  public void append(long iteration, Map<String, Double> metrics) throws IOException {
    append(new MetricsRecord(iteration, metrics));
  }

  /** Appends one entry and makes it durable (fsync) before returning. */
  public synchronized void append(MetricsRecord record) throws IOException {
    if (!channel.isOpen()) throw new IllegalStateException(file + ": metrics log is closed");
    if (record.iteration() <= lastIteration) {
      throw new IllegalArgumentException(file + ": iteration " + record.iteration()
          + " is not after the last logged iteration " + lastIteration
          + " (to redo iterations, reopen with MetricsLog.resume)");
    }
    byte[] line = (MetricsJson.line(record) + "\n").getBytes(StandardCharsets.UTF_8);
    long end = channel.size();
    try {
      writeFully(channel, ByteBuffer.wrap(line), end);
      channel.force(true);
    } catch (IOException e) {
      // Leave no partial line behind for the next append to follow (e.g. disk full).
      try {
        channel.truncate(end);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    lastIteration = record.iteration();
    if (events != null) {
      try {
        events.scalars(record.iteration(), record.values());
      } catch (IOException e) {
        log.warn("{}: writing TensorBoard events failed ({}); no more are written", events.file(), e.getMessage());
        closeEvents();
      }
    }
  }

  private void closeEvents() {
    try {
      if (events != null) events.close();
    } catch (IOException e) {
      log.warn("{}: {}", events.file(), e.getMessage());
    }
    events = null;
  }

  /** The last logged iteration, or -1 when the log is empty. */
  public synchronized long lastIteration() {
    return lastIteration;
  }

  public Path file() {
    return file;
  }

  @Override
  public synchronized void close() throws IOException {
    if (!channel.isOpen()) return;
    closeEvents();
    try (channel) {
      lock.release();
    }
  }
}
