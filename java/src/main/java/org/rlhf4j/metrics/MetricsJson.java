package org.rlhf4j.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JSON form of numbers and metrics lines. JSON has no NaN or infinity, so non-finite
 * values are written as the strings "NaN", "Infinity" and "-Infinity" (the names Java and
 * Python's {@code float()} both parse back); every other value is a plain JSON number. A reader
 * also takes {@code null} as NaN.
 */
final class MetricsJson {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private MetricsJson() {}

  /** A double as a JSON value under the non-finite policy above. */
  static JsonNode number(double v) {
    if (Double.isNaN(v)) return MAPPER.getNodeFactory().textNode("NaN");
    if (Double.isInfinite(v)) return MAPPER.getNodeFactory().textNode(v > 0 ? "Infinity" : "-Infinity");
    return MAPPER.getNodeFactory().numberNode(v);
  }

  /** One metrics line without its newline: {"iteration": N, "key": value, ...}. */
  static String line(MetricsRecord r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put(MetricsRecord.ITERATION, r.iteration());
    r.values().forEach((k, v) -> o.set(k, number(v)));
    try {
      return MAPPER.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("metrics: cannot encode iteration " + r.iteration(), e);
    }
  }

  /**
   * Parses one line; throws IllegalArgumentException with the reason (the caller adds file and
   * line) when it is not a JSON object with an integer iteration and numeric values.
   */
  static MetricsRecord parse(String line) {
    JsonNode node;
    try {
      node = MAPPER.readTree(line);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not valid JSON (" + e.getOriginalMessage() + ")");
    }
    if (node == null || !node.isObject()) throw new IllegalArgumentException("not a JSON object");
    JsonNode it = node.get(MetricsRecord.ITERATION);
    if (it == null || !it.canConvertToExactIntegral() || !it.canConvertToLong()) {
      throw new IllegalArgumentException("no integer '" + MetricsRecord.ITERATION + "'");
    }
    Map<String, Double> values = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      if (e.getKey().equals(MetricsRecord.ITERATION)) continue;
      values.put(e.getKey(), value(e.getKey(), e.getValue()));
    }
    return new MetricsRecord(it.asLong(), values);
  }

  private static double value(String key, JsonNode v) {
    if (v.isNumber()) return v.asDouble();
    if (v.isNull()) return Double.NaN;
    if (v.isTextual()) {
      Double d = switch (v.textValue()) {
        case "NaN" -> Double.NaN;
        case "Infinity" -> Double.POSITIVE_INFINITY;
        case "-Infinity" -> Double.NEGATIVE_INFINITY;
        default -> null;
      };
      if (d != null) return d;
    }
    throw new IllegalArgumentException("key '" + key + "' is not a number: " + v);
  }
}
