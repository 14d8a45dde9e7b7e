package org.rlhf4j.metrics;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/**
 * logback.xml's {@code %prefix}: what {@link Logging#setPrefix} set ("[rank N] " in a
 * data-parallel job), the same on every thread. Thread-safe.
 */
public final class LogPrefix extends ClassicConverter {
  private static volatile String prefix = "";

  static void set(String p) {
    prefix = p;
  }

  @Override
  public String convert(ILoggingEvent event) {
    return prefix;
  }
}
