package org.rlhf4j.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A function the model may call. Implementations named in {@code agent.tools} need a public
 * no-argument constructor; one instance serves every episode, called from many virtual threads
 * at once, so it must be thread-safe. A call should return when its thread is interrupted (that
 * is how a timeout stops it).
 */
public interface Tool {
  /** The name the model calls it by. */
  String name();

  /** What it does, for the model. */
  default String description() {
    return "";
  }

  /** The JSON schema of its arguments: {@code {"type": "object", "properties": {...}, "required": [...]}}. */
  JsonNode parameters();

  /**
   * The result the model reads. An exception becomes an error message to the model.
   *
   * @param arguments the JSON object the model wrote
   */
  String call(JsonNode arguments) throws Exception;

  /**
   * This tool as an entry of a chat template's {@code tools} list (OpenAI/HF function spec):
   * {@code {"type": "function", "function": {"name", "description", "parameters"}}}.
   */
  default ObjectNode spec() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("type", "function");
    ObjectNode f = o.putObject("function");
    f.put("name", name());
    f.put("description", description());
    f.set("parameters", parameters().deepCopy());
    return o;
  }
}
