package org.rlhf4j.agent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The built-in environment: the prompt row's {@code prompt} (the user's text, or messages); each assistant
 * turn's tool calls run and their results (or errors) come back as tool messages. The episode
 * ends on a turn without tool calls or after maxTurns assistant turns; its reward comes from the
 * reward function at the end, so every step's reward is 0.
 */
public final class ToolEnvironment implements Environment {
  private final ToolRunner runner;
  private final ToolCallParser parser;
  private final int maxTurns;
  private int turns;

  public ToolEnvironment(ToolRunner runner, ToolCallParser parser, int maxTurns) {
    if (maxTurns < 1) throw new IllegalArgumentException("agent.max_turns must be >= 1, got " + maxTurns);
    this.runner = runner;
    this.parser = parser;
    this.maxTurns = maxTurns;
  }

  /**
   * The row's {@code prompt}: a list of messages (a conversational prompt, as given), or the
   * user's text, after a system message from the row's {@code system} field when given.
   */
  @Override
  public List<Message> reset(Map<String, Object> row) {
    turns = 0;
    Object prompt = row.get("prompt");
    if (prompt instanceof List<?> list) return messages(list);
    if (!(prompt instanceof String text)) {
      throw new IllegalArgumentException("tool environment: the prompt row needs a \"prompt\" string or list of"
          + " messages, got keys " + row.keySet());
    }
    List<Message> out = new ArrayList<>();
    if (row.get("system") instanceof String system) out.add(Message.system(system));
    out.add(Message.user(text));
    return out;
  }

  private static List<Message> messages(List<?> list) {
    List<Message> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof Map<?, ?> m) || !(m.get("role") instanceof String role)
          || !(m.get("content") instanceof String content)) {
        throw new IllegalArgumentException("tool environment: prompt[" + i + "] must be a message with a string"
            + " role and content");
      }
      out.add(new Message(role, content, List.of(), m.get("tool_call_id") instanceof String id ? id : null,
          m.get("name") instanceof String n ? n : null));
    }
    return out;
  }

  @Override
  public Step step(Message assistant) {
    turns++;
    ToolCallParser.Parsed parsed = parser.parse(assistant.content());
    if (parsed.none() || turns >= maxTurns) return new Step(List.of(), 0, true);
    try {
      return new Step(runner.run(parsed.calls(), parsed.errors()), 0, false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("tool environment: interrupted while tools ran", e);
    }
  }

  /** Assistant turns taken since reset. */
  public int turns() {
    return turns;
  }
}
