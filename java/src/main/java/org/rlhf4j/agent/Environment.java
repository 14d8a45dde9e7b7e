package org.rlhf4j.agent;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One episode's world: it opens the conversation and answers each assistant turn. A new instance
 * serves each episode (classes named in {@code agent.environment} need a public no-argument
 * constructor); step may run on any thread, never concurrently for one instance.
 */
public interface Environment extends AutoCloseable {
  /**
   * What the environment says after an assistant turn.
   *
   * @param observations messages appended for the model (tool results, a user's reply); none when done
   * @param reward this turn's reward, added at the turn's last token (0 for none)
   * @param done whether the episode ends here
   */
  record Step(List<Message> observations, double reward, boolean done) {
    public Step {
      observations = List.copyOf(observations);
      if (!Double.isFinite(reward)) throw new IllegalArgumentException("a step's reward must be finite, got " + reward);
    }
  }

  /**
   * The conversation the model starts from.
   *
   * @param row the prompt's JSONL object: {@code prompt} (its text) and its other fields; see {@link #row}
   */
  List<Message> reset(Map<String, Object> row);

  /** The environment's answer to the assistant's message (its raw text as content). */
  Step step(Message assistant);

  @Override
  default void close() {}

  /**
   * A row's {@code prompt} as messages: a conversational prompt's list as given, or the text as
   * the user's message.
   *
   * @param who names the caller in errors
   * @throws IllegalArgumentException when the prompt is neither, or a message lacks a string role or content
   */
  static List<Message> promptMessages(Map<String, Object> row, String who) {
    Object prompt = row.get("prompt");
    if (prompt instanceof String text) return List.of(Message.user(text));
    if (!(prompt instanceof List<?> list)) {
      throw new IllegalArgumentException(who + ": the prompt row needs a \"prompt\" string or list of messages, got"
          + " keys " + row.keySet());
    }
    List<Message> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof Map<?, ?> m) || !(m.get("role") instanceof String role)
          || !(m.get("content") instanceof String content)) {
        throw new IllegalArgumentException(who + ": prompt[" + i + "] must be a message with a string role and"
            + " content");
      }
      out.add(new Message(role, content, List.of(), m.get("tool_call_id") instanceof String id ? id : null,
          m.get("name") instanceof String n ? n : null));
    }
    return out;
  }

  /**
   * The row reset reads, from a prompt pool's prompt (its text, or its list of messages) and
   * other fields (which do not hold the prompt itself).
   */
  static Map<String, Object> row(Object prompt, Map<String, Object> fields) {
    Map<String, Object> out = new LinkedHashMap<>(fields);
    out.put("prompt", prompt);
    return Collections.unmodifiableMap(out);
  }
}
