package org.rlhf4j.chat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A list of chat messages in TRL's (and OpenAI's) format: each an object with a {@code role}
 * (system, user, assistant, tool; Llama's ipython and OpenAI's developer too) and a string
 * {@code content}, plus whatever else a template reads ({@code tool_calls}, {@code
 * reasoning_content}, {@code name}, ...), kept as given, in order. Immutable.
 */
public record Conversation(List<Map<String, Object>> messages) {
  public static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool", "ipython",
      "developer");
  private static final ObjectMapper JSON = new ObjectMapper();

  public Conversation {
    messages = Collections.unmodifiableList(new ArrayList<>(messages));
  }

  /**
   * The messages of a JSON array, checked.
   *
   * @param where names the array in errors, e.g. "data.jsonl:3: messages"
   * @throws IllegalArgumentException naming where and the message when one is malformed
   */
  public static Conversation parse(JsonNode array, String where) {
    if (array == null || !array.isArray()) {
      throw new IllegalArgumentException(where + ": expected a list of messages");
    }
    if (array.isEmpty()) throw new IllegalArgumentException(where + ": no messages");
    List<Map<String, Object>> messages = new ArrayList<>();
    for (int i = 0; i < array.size(); i++) {
      JsonNode m = array.get(i);
      String at = where + "[" + i + "]";
      if (!m.isObject()) throw new IllegalArgumentException(at + ": a message must be an object");
      if (!m.path("role").isTextual()) throw new IllegalArgumentException(at + ": no \"role\"");
      String role = m.get("role").textValue();
      if (!ROLES.contains(role)) {
        throw new IllegalArgumentException(at + ": unknown role \"" + role + "\" (expected one of "
            + String.join(", ", ROLES.stream().sorted().toList()) + ")");
      }
      if (!m.path("content").isTextual()) {
        throw new IllegalArgumentException(at + ": \"content\" must be a string"
            + (m.has("content") ? ", not " + m.get("content").getNodeType().name().toLowerCase() : " and is missing"));
      }
      messages.add(JSON.convertValue(m, new TypeReference<LinkedHashMap<String, Object>>() {}));
    }
    return new Conversation(messages);
  }

  /** The first n messages. */
  public Conversation prefix(int n) {
    return new Conversation(messages.subList(0, n));
  }

  public String role(int i) {
    return (String) messages.get(i).get("role");
  }

  public String content(int i) {
    return (String) messages.get(i).get("content");
  }
}
