package org.rlhf4j.agent;

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
    return CallJson.call(id, CallJson.read(json, "is not JSON"), "arguments");
  }
}
