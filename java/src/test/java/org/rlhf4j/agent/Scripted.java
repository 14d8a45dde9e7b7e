package org.rlhf4j.agent;

import java.util.List;
import java.util.Map;

/**
 * A scripted environment for episode tests: the row's prompt as messages; a turn whose
 * text holds "good" ends the episode with reward 1, any other turn is answered by a tool message
 * "five six" and reward 0.25.
 */
public final class Scripted implements Environment {
  @Override
  public List<Message> reset(Map<String, Object> row) {
    return Environment.promptMessages(row, "scripted environment");
  }

  @Override
  public Step step(Message assistant) {
    if (assistant.content().contains("good")) return new Step(List.of(), 1.0, true);
    return new Step(List.of(Message.tool("call_0", "menu", "five six")), 0.25, false);
  }
}
