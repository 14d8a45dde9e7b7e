package org.rlhf4j.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Llama 3.1 JSON tool calls: the whole message (after an optional {@code <|python_tag|>}) is
 * {@code {"name": ..., "parameters": {...}}}, several separated by {@code ;} (as vLLM's
 * llama3_json parser reads them). A message that does not start with {@code {} is plain text.
 * Thread-safe.
 */
final class Llama3JsonParser implements ToolCallParser {
  static final String PYTHON_TAG = "<|python_tag|>";
  /** Reads one call at a time, so what follows it (a ';' and the next) is not an error here. */
  private static final ObjectMapper STREAM = new ObjectMapper();

  @Override
  public Parsed parse(String text) {
    if (text == null) return new Parsed("", List.of(), List.of());
    String rest = text.strip();
    if (rest.startsWith(PYTHON_TAG)) rest = rest.substring(PYTHON_TAG.length()).strip();
    if (!rest.startsWith("{")) return new Parsed(text.strip(), List.of(), List.of());
    List<ToolCall> calls = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    while (!rest.isEmpty()) {
      int index = calls.size() + errors.size();
      if (!rest.startsWith("{")) {
        errors.add("tool call " + index + ": text after the tool calls is not a JSON object");
        break;
      }
      try (JsonParser p = STREAM.createParser(rest)) {
        p.nextToken();
        JsonNode node = p.readValueAsTree();
        rest = rest.substring((int) p.currentLocation().getCharOffset()).strip();
        try {
          calls.add(CallJson.call("call_" + index, node, "parameters"));
        } catch (RuntimeException e) {
          errors.add("tool call " + index + ": " + e.getMessage());
        }
      } catch (JacksonException e) {
        errors.add("tool call " + index + ": is not JSON: " + CallJson.reason(e));
        break; // no way to find where the next call starts
      } catch (IOException | RuntimeException e) {
        // Whatever the model wrote, the parser answers with an error, never an exception.
        errors.add("tool call " + index + ": " + e.getMessage());
        break;
      }
      if (rest.startsWith(";")) rest = rest.substring(1).strip();
    }
    return new Parsed("", calls, errors);
  }
}
