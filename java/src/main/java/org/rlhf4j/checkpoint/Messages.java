package org.rlhf4j.checkpoint;

/** Helpers that keep error messages one line and short when they quote untrusted text. */
final class Messages {
  private static final int MAX_QUOTED = 120;

  private Messages() {}

  /** text in single quotes, control characters escaped, cut after about 120 characters. */
  static String quote(String text) {
    StringBuilder b = new StringBuilder("'");
    for (int i = 0; i < text.length(); i++) {
      if (b.length() > MAX_QUOTED) {
        b.append("...");
        break;
      }
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7f) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('\'').toString();
  }

  /** A library message (e.g. Jackson's) on one line. */
  static String oneLine(String message) {
    if (message == null) return "";
    String line = message.replaceAll("\\s+", " ").trim();
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }
}
