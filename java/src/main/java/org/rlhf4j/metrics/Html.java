package org.rlhf4j.metrics;

/** Text helpers for the HTML report: escaping and number formatting. */
final class Html {
  private Html() {}

  /** Escapes text for use in element content and in quoted attribute values. */
  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  /** A cell value as display text: numbers formatted, null as empty. Not escaped. */
  static String text(Object value) {
    return switch (value) {
      case null -> "";
      case Double d -> Numbers.format(d);
      case Float f -> Numbers.format(f);
      default -> value.toString();
    };
  }
}
