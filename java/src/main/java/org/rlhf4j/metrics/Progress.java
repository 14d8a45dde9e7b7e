package org.rlhf4j.metrics;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a long phase (SFT epochs, reward-model epochs, PPO iterations) on stderr: steps
 * done of the total, ETA, and an extra message with key metrics ({@code reward 0.42 kl 1.3}).
 *
 * <p>On a terminal it draws a progress bar (me.tongfei progressbar). Otherwise (CI, redirected
 * output, tests) it prints plain lines: one at the start, one per 10% done or per 30 seconds,
 * whichever comes first, and one at the end. The mode comes from the system property
 * {@value #MODE_PROPERTY} ({@code auto}, {@code bar}, {@code lines}, {@code off}; default
 * {@code auto}) unless given explicitly; {@code off} prints nothing.
 *
 * <p>Not thread-safe: drive it from the thread that runs the phase.
 */
public final class Progress implements AutoCloseable {
  /** The system property that chooses the mode: auto, bar, lines or off. */
  public static final String MODE_PROPERTY = "rlhf4j.progress";

  static final Duration LINE_EVERY = Duration.ofSeconds(30);
  static final int LINE_PERCENT_EVERY = 10;

  /** How progress is shown. */
  public enum Mode {
    /** A bar when stderr is a terminal, otherwise plain lines. */
    AUTO,
    /** Always the redrawn bar. */
    BAR,
    /** Always plain, bounded log lines. */
    LINES,
    /** Nothing at all. */
    OFF;

    /** The mode named by {@value #MODE_PROPERTY}, AUTO when unset. */
    public static Mode fromSystemProperty() {
      String v = System.getProperty(MODE_PROPERTY);
      if (v == null || v.isBlank()) return AUTO;
      try {
        return valueOf(v.strip().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("system property " + MODE_PROPERTY + ": unknown mode '" + v
            + "' (expected auto, bar, lines or off)");
      }
    }
  }

  private final long total;
  private final ProgressBar bar;
  private final ProgressLines lines;
  private long current;
  private String extra = "";
  private boolean closed;

  private Progress(long initial, long total, ProgressBar bar, ProgressLines lines) {
    this.current = initial;
    this.total = total;
    this.bar = bar;
    this.lines = lines;
  }

  /** Starts a phase of {@code total} steps in the mode of {@value #MODE_PROPERTY}. */
  public static Progress start(String task, long total) {
    return start(task, 0, total, Mode.fromSystemProperty());
  }

  /**
   * Starts a phase of {@code total} steps of which {@code done} are already done (a resumed
   * run); the ETA counts only steps taken from here.
   */
  public static Progress start(String task, long done, long total, Mode mode) {
    if (total < 1) throw new IllegalArgumentException("progress '" + task + "': total must be >= 1, got " + total);
    if (done < 0 || done > total) {
      throw new IllegalArgumentException("progress '" + task + "': done must be in 0.." + total + ", got " + done);
    }
    return switch (mode == Mode.AUTO ? (stderrIsTerminal() ? Mode.BAR : Mode.LINES) : mode) {
      case BAR -> new Progress(done, total, bar(task, done, total), null);
      case LINES -> new Progress(done, total, null,
          new ProgressLines(task, done, total, System.err, LINE_EVERY, LINE_PERCENT_EVERY, System::nanoTime));
      case OFF, AUTO -> new Progress(done, total, null, null);
    };
  }

  /** Plain-lines progress on a given stream and clock (tests, embedding). */
  static Progress lines(String task, long total, PrintStream out, Duration every, int percentEvery,
      LongSupplier nanoTime) {
    return new Progress(0, total, null, new ProgressLines(task, 0, total, out, every, percentEvery, nanoTime));
  }

  private static ProgressBar bar(String task, long done, long total) {
    return new ProgressBarBuilder()
        .setTaskName(task)
        .setInitialMax(total)
        .startsFrom(done, Duration.ZERO)
        .setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(500)
        .build();
  }

  /**
   * Whether stderr is a terminal. Linux: where fd 2 points; elsewhere, whether the JVM has an
   * interactive console. A CI environment variable always means no.
   */
  static boolean stderrIsTerminal() {
    if (System.getenv("CI") != null || "dumb".equals(System.getenv("TERM"))) return false;
    Path fd2 = Path.of("/proc/self/fd/2");
    if (Files.exists(fd2, LinkOption.NOFOLLOW_LINKS)) {
      try {
        String target = Files.readSymbolicLink(fd2).toString();
        return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
      } catch (IOException | UnsupportedOperationException e) {
        return false;
      }
    }
    var console = System.console();
    return console != null && console.isTerminal();
  }

  public void step() {
    stepTo(current + 1);
  }

  public void stepBy(long n) {
    stepTo(current + n);
  }

  /** Sets the number of steps done (at most the total). */
  public void stepTo(long n) {
    if (closed) throw new IllegalStateException("progress: already closed");
    current = Math.min(Math.max(n, 0), total);
    if (bar != null) bar.stepTo(current);
    if (lines != null) lines.update(current, extra);
  }

  /** The text after the bar or line, e.g. "reward 0.42 kl 1.3"; shown from the next update. */
  public void message(String text) {
    extra = text == null ? "" : text;
    if (bar != null) bar.setExtraMessage(extra);
  }

  /** Sets the message to "name value" pairs in order, e.g. {reward=0.42, kl=1.3}. */
  public void metrics(Map<String, ? extends Number> values) {
    StringJoiner j = new StringJoiner(" ");
    values.forEach((k, v) -> j.add(k + " " + Numbers.format(v.doubleValue())));
    message(j.toString());
  }

  public long current() {
    return current;
  }

  /** Ends the phase: the bar's last frame, or the final line. Idempotent. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (bar != null) bar.close();
    if (lines != null) lines.close(current, extra);
  }
}
