package org.rlhf4j.ppo;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a remote reward service's reply (OpenRLHF's contract): {@code {"rewards": [...]}} with
 * optional {@code "scores": [...]} and {@code "extra_logs": {key: [...] or number}}.
 */
final class RemoteReply {
  private static final ObjectMapper JSON = new ObjectMapper();

  private RemoteReply() {}

  /** The reply for n samples; IllegalArgumentException with a one-line reason when it is not one. */
  static BatchReward.Result parse(String body, int n) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (JacksonException e) {
      throw new IllegalArgumentException("reply is not JSON: " + excerpt(body));
    }
    if (root == null || !root.isObject()) throw new IllegalArgumentException("reply is not a JSON object: " + excerpt(body));
    float[] rewards = numbers(root.get("rewards"), n, "rewards");
    Map<String, float[]> logs = new LinkedHashMap<>();
    if (root.hasNonNull("scores")) logs.put("scores", numbers(root.get("scores"), n, "scores"));
    JsonNode extra = root.get("extra_logs");
    if (extra != null && !extra.isNull()) {
      if (!extra.isObject()) throw new IllegalArgumentException("extra_logs must be an object, got " + excerpt(extra.toString()));
      for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
        var e = it.next();
        JsonNode v = e.getValue();
        float[] values = v.isNumber() ? filled(n, v.floatValue()) : numbers(v, n, "extra_logs." + e.getKey());
        logs.put(e.getKey(), values);
      }
    }
    return new BatchReward.Result(rewards, logs);
  }

  private static float[] numbers(JsonNode node, int n, String key) {
    if (node == null || !node.isArray()) throw new IllegalArgumentException("reply has no \"" + key + "\" list");
    if (node.size() != n) {
      throw new IllegalArgumentException("\"" + key + "\" has " + node.size() + " values for " + n + " samples");
    }
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      JsonNode v = node.get(i);
      if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
        throw new IllegalArgumentException("\"" + key + "\"[" + i + "] is not a finite number: " + excerpt(v.toString()));
      }
      out[i] = v.floatValue();
    }
    return out;
  }

  private static float[] filled(int n, float v) {
    float[] out = new float[n];
    Arrays.fill(out, v);
    return out;
  }

  /** At most 120 characters on one line, for error messages. */
  static String excerpt(String text) {
    String one = text.replaceAll("\\s+", " ").strip();
    return one.length() <= 120 ? "'" + one + "'" : "'" + one.substring(0, 120) + "...'";
  }
}
