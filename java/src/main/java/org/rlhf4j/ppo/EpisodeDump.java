package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.agent.Message;
import org.rlhf4j.agent.ToolCall;

/**
 * A multi-turn sample's part of a rollout dump: per response token {@code role} (assistant or
 * observation), {@code turn} (the assistant turn, or the turn an observation answers) and {@code
 * action_mask}; {@code truncated}; and {@code turns}, each with its {@code text}, {@code reward},
 * {@code tool_calls} ({@code id}, {@code name}, {@code arguments}) and {@code observations} (the
 * messages that answered it: each tool's result or error).
 */
final class EpisodeDump {
  private EpisodeDump() {}

  static void add(ObjectNode sample, Episode e) {
    ArrayNode role = sample.putArray("role"), turn = sample.putArray("turn"), mask = sample.putArray("action_mask");
    for (int t = 0; t < e.responseTokens().length; t++) {
      role.add(e.actionMask()[t] != 0 ? "assistant" : "observation");
      turn.add(e.turnOfToken()[t]);
      mask.add(e.actionMask()[t]);
    }
    sample.put("truncated", e.truncated());
    ArrayNode turns = sample.putArray("turns");
    for (Episode.Turn t : e.turns()) {
      ObjectNode o = turns.addObject();
      o.put("text", t.text());
      o.put("reward", t.reward());
      ArrayNode calls = o.putArray("tool_calls");
      for (ToolCall c : t.calls()) {
        calls.addObject().put("id", c.id()).put("name", c.name()).set("arguments", c.arguments().deepCopy());
      }
      ArrayNode observations = o.putArray("observations");
      for (Message m : t.observations()) observations.add(m.toNode());
    }
  }
}
