package org.rlhf4j.config;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as users write them: {@code 90s}, {@code 20m}, {@code 2h}, {@code 1d}, combined
 * ({@code 1h30m}), or ISO-8601 ({@code PT1H30M}). Stateless and thread-safe.
 */
public final class Durations {
  private static final Pattern COMPACT = Pattern.compile("(?:\\d+[dhms])+");
  private static final Pattern PART = Pattern.compile("(\\d+)([dhms])");

  private Durations() {}

  /**
   * Parses a duration.
   *
   * @throws IllegalArgumentException when text is neither form
   */
  public static Duration parse(String text) {
    String t = text.strip();
    if (t.startsWith("P") || t.startsWith("p")) {
      try {
        return Duration.parse(t);
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("not an ISO-8601 duration: '" + text + "'");
      }
    }
    if (!COMPACT.matcher(t).matches()) {
      throw new IllegalArgumentException("not a duration like 90s, 20m, 2h, 1h30m or PT1H30M: '" + text + "'");
    }
    Duration d = Duration.ZERO;
    Matcher m = PART.matcher(t);
    while (m.find()) {
      long n = Long.parseLong(m.group(1));
      d = d.plus(switch (m.group(2)) {
        case "d" -> Duration.ofDays(n);
        case "h" -> Duration.ofHours(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofSeconds(n);
      });
    }
    return d;
  }

  /** The compact form ({@code 1h30m}) for whole seconds, else ISO-8601; parse reads both back. */
  public static String format(Duration d) {
    if (d.getNano() != 0 || d.isNegative() || d.isZero()) return d.toString();
    long s = d.getSeconds();
    StringBuilder b = new StringBuilder();
    if (s >= 3600) b.append(s / 3600).append('h');
    if (s % 3600 >= 60) b.append(s % 3600 / 60).append('m');
    if (s % 60 != 0) b.append(s % 60).append('s');
    return b.toString();
  }
}
