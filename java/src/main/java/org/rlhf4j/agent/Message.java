package org.rlhf4j.agent;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * A chat message as Hugging Face chat templates read it: role, content, and for an assistant's
 * tool calls {@code tool_calls}, for a tool's result {@code tool_call_id} and {@code name}.
 *
 * @param role system, user, assistant or tool
 * @param content the text (empty, never null)
 * @param toolCalls the assistant's calls (empty otherwise)
 * @param toolCallId the call a tool message answers, else null
 * @param name the tool a tool message comes from, else null
 */
public record Message(String role, String content, List<ToolCall> toolCalls, String toolCallId, String name) {
  private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

  public Message {
    if (!ROLES.contains(role)) throw new IllegalArgumentException("message role must be one of " + ROLES + ", got " + role);
    if (content == null) throw new IllegalArgumentException("message content must not be null");
    toolCalls = List.copyOf(toolCalls);
    if (!toolCalls.isEmpty() && !role.equals("assistant")) {
      throw new IllegalArgumentException("only assistant messages carry tool_calls");
    }
  }

  public static Message system(String content) {
    return new Message("system", content, List.of(), null, null);
  }

  public static Message user(String content) {
    return new Message("user", content, List.of(), null, null);
  }

  public static Message assistant(String content, List<ToolCall> calls) {
    return new Message("assistant", content, calls, null, null);
  }

  /** A tool's result (or the error the model is told instead) for the call with callId. */
  public static Message tool(String callId, String name, String content) {
    return new Message("tool", content, List.of(), callId, name);
  }

  /** The HF dict: keys that are empty or null are left out. */
  public ObjectNode toNode() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("role", role);
    o.put("content", content);
    if (!toolCalls.isEmpty()) {
      ArrayNode calls = o.putArray("tool_calls");
      for (ToolCall c : toolCalls) calls.add(c.toNode());
    }
    if (toolCallId != null) o.put("tool_call_id", toolCallId);
    if (name != null) o.put("name", name);
    return o;
  }
}
