package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed access to the keys of a JSON object read from a file, with errors that name the file
 * and the key. A key holding JSON null counts as absent, as in Hugging Face configs.
 */
final class JsonFields {
  private final JsonNode object;
  private final String source;
  private final String prefix;

  private JsonFields(JsonNode object, String source, String prefix) {
    this.object = object;
    this.source = source;
    this.prefix = prefix;
  }

  /** The fields of node, which must be a JSON object. */
  static JsonFields of(JsonNode node, String source) {
    if (node == null || !node.isObject()) throw new CheckpointException(source + ": expected a JSON object");
    return new JsonFields(node, source, "");
  }

  String source() {
    return source;
  }

  boolean has(String key) {
    JsonNode v = object.get(key);
    return v != null && !v.isNull();
  }

  /** The nested object at key, or null when absent. */
  JsonFields object(String key) {
    if (!has(key)) return null;
    JsonNode v = object.get(key);
    if (!v.isObject()) throw error(key, "must be a JSON object");
    return new JsonFields(v, source, prefix + key + ".");
  }

  /** The number of keys of this object. */
  int size() {
    return object.size();
  }

  long requireLong(String key) {
    if (!has(key)) throw new CheckpointException(source + ": missing key " + quote(prefix + key));
    return longValue(key);
  }

  long optLong(String key, long fallback) {
    return has(key) ? longValue(key) : fallback;
  }

  /** A positive integer. */
  long requirePositive(String key) {
    long v = requireLong(key);
    if (v <= 0) throw error(key, "must be > 0, got " + v);
    return v;
  }

  double requireDouble(String key) {
    if (!has(key)) throw new CheckpointException(source + ": missing key " + quote(prefix + key));
    return optDouble(key, 0);
  }

  double optDouble(String key, double fallback) {
    if (!has(key)) return fallback;
    JsonNode v = object.get(key);
    if (!v.isNumber()) throw error(key, "must be a number, got " + brief(v));
    return v.doubleValue();
  }

  boolean optBoolean(String key, boolean fallback) {
    if (!has(key)) return fallback;
    JsonNode v = object.get(key);
    if (!v.isBoolean()) throw error(key, "must be true or false, got " + brief(v));
    return v.booleanValue();
  }

  String optString(String key, String fallback) {
    if (!has(key)) return fallback;
    JsonNode v = object.get(key);
    if (!v.isTextual()) throw error(key, "must be a string, got " + brief(v));
    return v.textValue();
  }

  String requireString(String key) {
    if (!has(key)) throw new CheckpointException(source + ": missing key " + quote(prefix + key));
    return optString(key, null);
  }

  /** An integer or an array of integers (e.g. eos_token_id), empty when absent. */
  List<Integer> intOrInts(String key) {
    List<Integer> out = new ArrayList<>();
    if (!has(key)) return out;
    JsonNode v = object.get(key);
    if (v.isArray()) {
      for (JsonNode item : v) out.add(intValue(key, item));
    } else {
      out.add(intValue(key, v));
    }
    return out;
  }

  /** An integer, or null when absent. */
  Integer optInt(String key) {
    return has(key) ? intValue(key, object.get(key)) : null;
  }

  /** The strings of an array (e.g. architectures), empty when absent. */
  List<String> strings(String key) {
    List<String> out = new ArrayList<>();
    if (!has(key)) return out;
    JsonNode v = object.get(key);
    if (!v.isArray()) throw error(key, "must be an array of strings, got " + brief(v));
    for (JsonNode item : v) {
      if (!item.isTextual()) throw error(key, "must be an array of strings, got " + brief(v));
      out.add(item.textValue());
    }
    return out;
  }

  CheckpointException error(String key, String problem) {
    return new CheckpointException(source + ": key " + quote(prefix + key) + " " + problem);
  }

  CheckpointException unsupported(String key, String problem) {
    return new CheckpointException(source + ": unsupported " + quote(prefix + key) + ": " + problem);
  }

  private long longValue(String key) {
    JsonNode v = object.get(key);
    if (!v.isIntegralNumber() || !v.canConvertToLong()) throw error(key, "must be an integer, got " + brief(v));
    return v.longValue();
  }

  private int intValue(String key, JsonNode v) {
    if (!v.isIntegralNumber() || !v.canConvertToInt()) throw error(key, "must be an integer, got " + brief(v));
    return v.intValue();
  }

  private static String brief(JsonNode v) {
    return Messages.oneLine(v.toString().length() > 60 ? v.toString().substring(0, 60) + "..." : v.toString());
  }
}
