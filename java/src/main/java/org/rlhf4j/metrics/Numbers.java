package org.rlhf4j.metrics;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;

/** Formats numbers for people (reports, progress lines). */
final class Numbers {
  private Numbers() {}

  /**
   * Integers in full, others to 4 significant digits (more when the integer part needs them),
   * tiny and huge magnitudes in scientific notation; non-finite values by name.
   */
  static String format(double v) {
    if (Double.isNaN(v)) return "NaN";
    if (Double.isInfinite(v)) return v > 0 ? "Infinity" : "-Infinity";
    double a = Math.abs(v);
    if (v == Math.rint(v) && a < 1e15) return Long.toString((long) v);
    if (a < 1e-4 || a >= 1e9) return String.format(Locale.ROOT, "%.3e", v);
    int integerDigits = a < 1 ? 0 : (int) Math.floor(Math.log10(a)) + 1;
    BigDecimal d = new BigDecimal(v).round(new MathContext(Math.max(4, integerDigits + 1)));
    return d.stripTrailingZeros().toPlainString();
  }
}
