package org.rlhf4j.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Qwen3/Hermes tool calls: {@code <tool_call>{"name": ..., "arguments": {...}}</tool_call>},
 * any number per message; arguments may also be a JSON string holding the object (as OpenAI
 * writes them) or absent (no arguments). Thread-safe.
 */
final class HermesParser implements ToolCallParser {
  static final String OPEN = "<tool_call>";
  static final String CLOSE = "</tool_call>";
  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  @Override
  public Parsed parse(String text) {
    if (text == null) return new Parsed("", List.of(), List.of());
    List<ToolCall> calls = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    StringBuilder content = new StringBuilder();
    int at = 0;
    while (true) {
      int open = text.indexOf(OPEN, at);
      if (open < 0) {
        content.append(text, at, text.length());
        break;
      }
      content.append(text, at, open);
      int body = open + OPEN.length();
      int close = text.indexOf(CLOSE, body);
      if (close < 0) {
        errors.add("tool call " + (calls.size() + errors.size()) + " has no closing " + CLOSE);
        break;
      }
      String id = "call_" + (calls.size() + errors.size());
      try {
        calls.add(call(id, text.substring(body, close)));
      } catch (RuntimeException e) {
        // Whatever the model wrote, the parser answers with an error, never an exception.
        errors.add("tool call " + id.substring(5) + ": " + e.getMessage());
      }
      at = close + CLOSE.length();
    }
    return new Parsed(content.toString().strip(), calls, errors);
  }

  private static ToolCall call(String id, String json) {
    JsonNode node = read(json, "is not JSON");
    if (!node.isObject()) throw new IllegalArgumentException("must be a JSON object {\"name\": ..., \"arguments\": {...}}");
    JsonNode name = node.get("name");
    if (name == null || !name.isTextual() || name.textValue().isBlank()) {
      throw new IllegalArgumentException("needs \"name\", a non-empty string");
    }
    JsonNode args = node.get("arguments");
    if (args == null || args.isNull()) {
      args = JsonNodeFactory.instance.objectNode();
    } else if (args.isTextual()) {
      args = read(args.textValue(), "has \"arguments\" that are not JSON");
    }
    if (!args.isObject()) throw new IllegalArgumentException("\"arguments\" must be a JSON object");
    return new ToolCall(id, name.textValue(), args);
  }

  private static JsonNode read(String json, String what) {
    try {
      JsonNode n = JSON.readTree(json);
      if (n == null || n.isMissingNode()) throw new IllegalArgumentException(what + ": empty");
      return n;
    } catch (JacksonException e) {
      String m = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
      throw new IllegalArgumentException(what + ": " + m.lines().findFirst().orElse(""));
    }
  }
}
