package org.rlhf4j.config;

/** Checks and describes a {@link Range}: "in [0, 1]", "> 0", ">= 1". */
final class Bounds {
  private Bounds() {}

  static boolean holds(Range r, double v) {
    if (!Double.isFinite(v)) return false;
    boolean aboveMin = r.minExclusive() ? v > r.min() : v >= r.min();
    boolean belowMax = r.maxExclusive() ? v < r.max() : v <= r.max();
    return aboveMin && belowMax;
  }

  static String text(Range r) {
    boolean lo = Double.isFinite(r.min());
    boolean hi = Double.isFinite(r.max());
    if (lo && hi) {
      return "in " + (r.minExclusive() ? "(" : "[") + Check.format(r.min()) + ", " + Check.format(r.max())
          + (r.maxExclusive() ? ")" : "]");
    }
    if (lo) return (r.minExclusive() ? "> " : ">= ") + Check.format(r.min());
    if (hi) return (r.maxExclusive() ? "< " : "<= ") + Check.format(r.max());
    return "finite";
  }

  /** @throws ConfigException "key must be in [0, 1], got 2" unless value (a Number or null) holds */
  static void check(String key, Range r, Object value) {
    if (r == null || value == null) return;
    double v = ((Number) value).doubleValue();
    if (!holds(r, v)) throw new ConfigException(key + " must be " + text(r) + ", got " + Check.format(v));
  }
}
