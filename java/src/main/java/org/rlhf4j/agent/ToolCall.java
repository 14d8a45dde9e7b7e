package org.rlhf4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One call the model asked for, as an HF chat message's {@code tool_calls} entry holds it.
 *
 * @param id the call's id, echoed by the tool message's tool_call_id
 * @param name the tool's name
 * @param arguments a JSON object
 */
public record ToolCall(String id, String name, JsonNode arguments) {
  public ToolCall {
    if (id == null || name == null || arguments == null || !arguments.isObject()) {
      throw new IllegalArgumentException("a tool call needs an id, a name and a JSON object of arguments");
    }
  }

  /** {@code {"id", "type": "function", "function": {"name", "arguments"}}}. */
  public ObjectNode toNode() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("id", id);
    o.put("type", "function");
    ObjectNode f = o.putObject("function");
    f.put("name", name);
    f.set("arguments", arguments.deepCopy());
    return o;
  }
}
