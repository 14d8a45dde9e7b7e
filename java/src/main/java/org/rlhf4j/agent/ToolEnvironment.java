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
   * user's text after a system message from the row's {@code system} field when given.
   */
  @Override
  public List<Message> reset(Map<String, Object> row) {
    turns = 0;
    List<Message> out = new ArrayList<>();
    if (row.get("prompt") instanceof String && row.get("system") instanceof String system) out.add(Message.system(system));
    out.addAll(Environment.promptMessages(row, "tool environment"));
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
