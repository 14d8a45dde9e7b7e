package org.rlhf4j.chat;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} as transformers' {@code tojson} filter calls it: the same
 * separators, indentation, escapes and float repr, so a tool schema renders byte for byte as
 * under Jinja2. Stateless.
 */
final class PyJson {
  private PyJson() {}

  /** json.dumps(value, ensure_ascii=, indent=, sort_keys=) with default separators. */
  static String dumps(Object value, boolean ensureAscii, Integer indent, boolean sortKeys) {
    StringBuilder out = new StringBuilder();
    write(out, value, ensureAscii, indent, sortKeys, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, boolean ascii, Integer indent,
      boolean sort, int depth) {
    switch (v) {
      case null -> out.append("null");
      case PyNone n -> out.append("null");
      case Boolean b -> out.append(b ? "true" : "false");
      case Integer i -> out.append(i);
      case Long l -> out.append(l);
      case java.math.BigInteger b -> out.append(b);
      case Double d -> out.append(floatRepr(d));
      case Float f -> out.append(floatRepr(f.doubleValue()));
      case CharSequence s -> string(out, s.toString(), ascii);
      case Map<?, ?> m -> {
        List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
        if (sort) entries.sort((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())));
        out.append('{');
        for (int k = 0; k < entries.size(); k++) {
          separator(out, k, indent, depth + 1);
          string(out, String.valueOf(entries.get(k).getKey()), ascii);
          out.append(": ");
          write(out, entries.get(k).getValue(), ascii, indent, sort, depth + 1);
        }
        close(out, entries.isEmpty(), indent, depth);
        out.append('}');
      }
      case Iterable<?> list -> {
        out.append('[');
        int k = 0;
        for (Object item : list) {
          separator(out, k++, indent, depth + 1);
          write(out, item, ascii, indent, sort, depth + 1);
        }
        close(out, k == 0, indent, depth);
        out.append(']');
      }
      default -> throw new ChatTemplateException("tojson: cannot serialize a "
          + v.getClass().getSimpleName() + " as Python's json.dumps would");
    }
  }

  /** Python: ", " between items without indent; ",\n" + indent with it. */
  private static void separator(StringBuilder out, int index, Integer indent, int depth) {
    if (index > 0) out.append(indent == null ? ", " : ",");
    if (indent != null) out.append('\n').append(" ".repeat(indent * depth));
  }

  private static void close(StringBuilder out, boolean empty, Integer indent, int depth) {
    if (indent != null && !empty) out.append('\n').append(" ".repeat(indent * depth));
  }

  private static void string(StringBuilder out, String s, boolean ascii) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || (ascii && c > 0x7e)) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    out.append('"');
  }

  /** Python's float repr: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
    BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    String digits = exact.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - exact.scale();
    String sign = d < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 16) {
      String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return sign + mantissa + "e" + (exponent < 0 ? "-" : "+")
          + String.format("%02d", Math.abs(exponent));
    }
    String plain = exact.abs().toPlainString();
    return sign + (plain.contains(".") ? plain : plain + ".0");
  }
}
