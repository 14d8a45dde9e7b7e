package org.rlhf4j.metrics;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.util.Locale;
import org.slf4j.LoggerFactory;

/**
 * The log level of rlhf4j's console log (logback.xml: stderr, "time level message").
 *
 * <p>Two ways to change it: start the JVM with {@code -Drlhf4j.log.level=DEBUG} (read when
 * logging starts), or call {@link #setLevel} at run time, as the CLI does for its verbose flag.
 * Thread-safe.
 */
public final class Logging {
  /** The system property logback.xml reads for the root level (default INFO). */
  public static final String LEVEL_PROPERTY = "rlhf4j.log.level";

  private Logging() {}

  /** Puts prefix before every later log message ("" for none): the data-parallel rank. */
  public static void setPrefix(String prefix) {
    LogPrefix.set(prefix);
  }

  /** Sets the root level: TRACE, DEBUG, INFO, WARN, ERROR or OFF (case-insensitive). */
  public static void setLevel(String level) {
    Level parsed = Level.toLevel(level.strip().toUpperCase(Locale.ROOT), null);
    if (parsed == null) {
      throw new IllegalArgumentException("log level: unknown level '" + level
          + "' (expected TRACE, DEBUG, INFO, WARN, ERROR or OFF)");
    }
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root) {
      root.setLevel(parsed);
    }
  }
}
