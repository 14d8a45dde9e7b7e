package org.rlhf4j.metrics;

import java.io.PrintStream;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Progress as plain log lines for output that is not a terminal (CI, files): a line when the
 * phase starts, then at most one each time another {@code percentEvery}% is done or
 * {@code every} has passed since the last line, and one when it closes. Never one per step.
 */
final class ProgressLines {
  private final String task;
  private final long total;
  private final long initial;
  private final PrintStream out;
  private final long everyNanos;
  private final int percentEvery;
  private final LongSupplier nanoTime;
  private final long startNanos;
  private long lastLineNanos;
  private long lastBucket;

  ProgressLines(String task, long initial, long total, PrintStream out, Duration every, int percentEvery,
      LongSupplier nanoTime) {
    if (percentEvery < 1 || percentEvery > 100) {
      throw new IllegalArgumentException("progress: percentEvery must be in 1..100, got " + percentEvery);
    }
    this.task = task;
    this.total = total;
    this.initial = initial;
    this.out = out;
    this.everyNanos = every.toNanos();
    this.percentEvery = percentEvery;
    this.nanoTime = nanoTime;
    this.startNanos = nanoTime.getAsLong();
    this.lastLineNanos = startNanos;
    this.lastBucket = bucket(initial);
    out.println(task + ": started, " + initial + "/" + total);
  }

  /** Called on every step; prints only when a threshold is crossed. */
  void update(long current, String extra) {
    long now = nanoTime.getAsLong();
    long b = bucket(current);
    if (b > lastBucket || now - lastLineNanos >= everyNanos) {
      lastBucket = Math.max(lastBucket, b);
      lastLineNanos = now;
      out.println(line(current, extra, now));
    }
  }

  void close(long current, String extra) {
    long now = nanoTime.getAsLong();
    String state = current >= total ? "done" : "stopped";
    out.println(task + ": " + state + ", " + current + "/" + total + " in " + duration(now - startNanos)
        + (extra.isEmpty() ? "" : " | " + extra));
  }

  private long bucket(long current) {
    return Math.min(current, total) * 100 / total / percentEvery;
  }

  private String line(long current, String extra, long now) {
    long elapsed = now - startNanos;
    long done = current - initial;
    StringBuilder b = new StringBuilder(task).append(": ").append(current).append('/').append(total)
        .append(" (").append(Math.min(current, total) * 100 / total).append("%) elapsed ").append(duration(elapsed));
    if (done > 0 && current < total) {
      b.append(" eta ").append(duration((long) ((double) elapsed / done * (total - current))));
    }
    if (!extra.isEmpty()) b.append(" | ").append(extra);
    return b.toString();
  }

  /** 45s, 3m12s, 2h05m. */
  static String duration(long nanos) {
    long s = Math.max(0, Math.round(nanos / 1e9));
    if (s < 60) return s + "s";
    if (s < 3600) return String.format("%dm%02ds", s / 60, s % 60);
    return String.format("%dh%02dm", s / 3600, s % 3600 / 60);
  }
}
