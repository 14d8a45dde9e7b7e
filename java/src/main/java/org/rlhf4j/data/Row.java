package org.rlhf4j.data;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One record of a data file whose fields the caller interprets (prompts, SFT examples,
 * preference pairs): a JSONL line or a Parquet row. Immutable.
 *
 * @param where {@code file:line} (JSONL, text) or {@code file: row N} (Parquet, N counted in that
 *     file), to begin error messages with
 * @param line 1-based number of the record in the data set (across all shards of a directory)
 * @param fields the record as Jackson maps JSON (String, Integer, Long, Double, Boolean, List,
 *     Map or null; Parquet adds BigDecimal for decimals and byte[] for binary columns, and leaves
 *     out null columns); a text file's line is the one field the caller named
 */
public record Row(String where, int line, Map<String, Object> fields) {
  public Row {
    // Map.copyOf would refuse JSON nulls, which the accessors report.
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  public boolean has(String name) {
    return fields.containsKey(name);
  }

  /** The string in field name, or null when the record lacks it; any other value is an error. */
  public String string(String name) {
    if (!fields.containsKey(name)) return null;
    if (fields.get(name) instanceof String s) return s;
    throw new DataException(where + ": field '" + name + "' must be a string, got " + kindOf(fields.get(name)));
  }

  /** The string in field name, which must be there and not blank. */
  public String text(String name) {
    String s = string(name);
    if (s == null) throw new DataException(where + ": missing field '" + name + "'");
    if (s.isBlank()) throw new DataException(where + ": field '" + name + "' is empty");
    return s;
  }

  private static String kindOf(Object value) {
    return switch (value) {
      case null -> "null";
      case Number n -> "a number";
      case Boolean b -> "a boolean";
      case List<?> l -> "an array";
      case Map<?, ?> m -> "an object";
      case byte[] b -> "binary";
      default -> value.getClass().getSimpleName();
    };
  }
}
