package org.rlhf4j.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/** The JSON of one tool call, {"name": ..., KEY: {...}}, as the text formats share it. */
final class CallJson {
  static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private CallJson() {}

  /**
   * The call node holds: a name and, under argsKey, a JSON object, a string holding one (as
   * OpenAI writes them), or nothing (no arguments).
   *
   * @throws IllegalArgumentException with a one-line reason otherwise
   */
  static ToolCall call(String id, JsonNode node, String argsKey) {
    if (!node.isObject()) {
      throw new IllegalArgumentException("must be a JSON object {\"name\": ..., \"" + argsKey + "\": {...}}");
    }
    JsonNode name = node.get("name");
    if (name == null || !name.isTextual() || name.textValue().isBlank()) {
      throw new IllegalArgumentException("needs \"name\", a non-empty string");
    }
    JsonNode args = node.get(argsKey);
    if (args == null || args.isNull()) {
      args = JsonNodeFactory.instance.objectNode();
    } else if (args.isTextual()) {
      args = read(args.textValue(), "has \"" + argsKey + "\" that are not JSON");
    }
    if (!args.isObject()) throw new IllegalArgumentException("\"" + argsKey + "\" must be a JSON object");
    return new ToolCall(id, name.textValue(), args);
  }

  /** One JSON value and nothing after it. */
  static JsonNode read(String json, String what) {
    try {
      JsonNode n = JSON.readTree(json);
      if (n == null || n.isMissingNode()) throw new IllegalArgumentException(what + ": empty");
      return n;
    } catch (JacksonException e) {
      throw new IllegalArgumentException(what + ": " + reason(e));
    }
  }

  /** The first line of Jackson's message, without the location. */
  static String reason(JacksonException e) {
    String m = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
    return m.lines().findFirst().orElse("");
  }
}
