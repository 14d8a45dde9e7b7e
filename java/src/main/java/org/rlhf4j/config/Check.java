package org.rlhf4j.config;

import java.util.regex.Pattern;

/**
 * Range checks for the compact constructors of config records. Messages name the key as the
 * record knows it (snake_case, without the section); the loader puts the section in front.
 * NaN and infinities fail every check on a double.
 */
final class Check {
  private Check() {}

  /** A fully qualified Java class name, as config keys that name a class take it. */
  static final Pattern CLASS_NAME = Pattern.compile("\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*"
      + "(\\.\\p{javaJavaIdentifierStart}\\p{javaJavaIdentifierPart}*)*");

  static <T> T notNull(String key, T value) {
    if (value == null) throw new ConfigException(key + " must be set, got null");
    return value;
  }

  static void positive(String key, double v) {
    if (!(v > 0) || Double.isInfinite(v)) fail(key, "> 0", v);
  }

  static void nonNegative(String key, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) fail(key, ">= 0", v);
  }

  static void finite(String key, double v) {
    if (!Double.isFinite(v)) throw new ConfigException(key + " must be a finite number, got " + format(v));
  }

  static void atLeast(String key, long v, long min) {
    if (v < min) throw new ConfigException(key + " must be >= " + min + ", got " + v);
  }

  /** lo <= v <= hi. */
  static void closed(String key, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi)) fail(key, "in [" + format(lo) + ", " + format(hi) + "]", v);
  }

  /** lo <= v < hi. */
  static void halfOpen(String key, double v, double lo, double hi) {
    if (!(v >= lo && v < hi)) fail(key, "in [" + format(lo) + ", " + format(hi) + ")", v);
  }

  /** lo < v <= hi. */
  static void openClosed(String key, double v, double lo, double hi) {
    if (!(v > lo && v <= hi)) fail(key, "in (" + format(lo) + ", " + format(hi) + "]", v);
  }

  static void notBlank(String key, String v) {
    if (v != null && v.isBlank()) throw new ConfigException(key + " must not be empty");
  }

  /** A rule across keys: message names them all. */
  static void rule(boolean holds, String message) {
    if (!holds) throw new ConfigException(message);
  }

  private static void fail(String key, String range, double v) {
    throw new ConfigException(key + " must be " + range + ", got " + format(v));
  }

  /** A double as a user wrote it: -1 rather than -1.0, 1.41E-5 as is. */
  static String format(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    return Double.toString(v);
  }
}
