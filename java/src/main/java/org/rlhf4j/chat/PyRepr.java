package org.rlhf4j.chat;

import java.util.List;
import java.util.Map;

/** Python's str() of a value as Jinja2 prints it, for the types JSON data holds. Stateless. */
final class PyRepr {
  private PyRepr() {}

  /** str(value); null when the type is not one JSON data holds. */
  static String str(Object value) {
    StringBuilder out = new StringBuilder();
    return value instanceof CharSequence s ? s.toString() : repr(out, value) ? out.toString() : null;
  }

  static String typeName(Object value) {
    return switch (value) {
      case PyNone n -> "none";
      case Boolean b -> "boolean";
      case Number n -> "number";
      case Map<?, ?> m -> "dict";
      case List<?> l -> "list";
      default -> value.getClass().getSimpleName();
    };
  }

  private static boolean repr(StringBuilder out, Object v) {
    switch (v) {
      case null -> out.append("None");
      case PyNone n -> out.append("None");
      case Boolean b -> out.append(b ? "True" : "False");
      case Integer i -> out.append(i);
      case Long l -> out.append(l);
      case Double d -> out.append(PyJson.floatRepr(d));
      case CharSequence s -> string(out, s.toString());
      case Map<?, ?> m -> {
        out.append('{');
        boolean first = true;
        for (var e : m.entrySet()) {
          if (!first) out.append(", ");
          first = false;
          if (!repr(out, e.getKey())) return false;
          out.append(": ");
          if (!repr(out, e.getValue())) return false;
        }
        out.append('}');
      }
      case List<?> l -> {
        out.append('[');
        for (int i = 0; i < l.size(); i++) {
          if (i > 0) out.append(", ");
          if (!repr(out, l.get(i))) return false;
        }
        out.append(']');
      }
      default -> {
        return false;
      }
    }
    return true;
  }

  /** repr(str): single quotes unless the text has ' and no ". */
  private static void string(StringBuilder out, String s) {
    char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    out.append(quote);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == quote || c == '\\') out.append('\\').append(c);
      else if (c == '\n') out.append("\\n");
      else if (c == '\r') out.append("\\r");
      else if (c == '\t') out.append("\\t");
      else if (c < 0x20 || c == 0x7f) out.append(String.format("\\x%02x", (int) c));
      else out.append(c);
    }
    out.append(quote);
  }
}
