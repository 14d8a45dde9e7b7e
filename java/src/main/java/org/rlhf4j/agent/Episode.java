package org.rlhf4j.agent;

import java.util.List;

/**
 * One finished episode: the prompt as rendered from the environment's first messages, then the
 * response the policy continued it with, assistant turns and observations interleaved as
 * tokens. Arrays are per response token. Treat as immutable.
 *
 * @param promptTokens the rendered opening conversation with the generation prompt
 * @param responseTokens every token after the prompt: assistant turns and observations
 * @param actionMask 1 on tokens the policy sampled, 0 on observation tokens (tool results, template glue)
 * @param logprobs each sampled token's log-prob when it was sampled; 0 on observations
 * @param values the value head's output recorded while sampling, 0 on observations; null when not recorded
 * @param turnRewards each turn's environment reward at the turn's last assistant token, else 0
 * @param turnOfToken the 0-based assistant turn of a token; an observation's is the turn it answers
 * @param messages the conversation: the opening messages, each turn's text and its observations
 * @param turns the assistant turns in order
 * @param truncated whether the budget ended it (a turn cut short or an observation that did not fit)
 *     rather than the environment, a turn without more to do, or agent.max_turns
 */
public record Episode(int[] promptTokens, int[] responseTokens, float[] actionMask, float[] logprobs,
    float[] values, float[] turnRewards, int[] turnOfToken, List<Message> messages, List<Turn> turns,
    boolean truncated) {

  /**
   * One assistant turn.
   *
   * @param text what the model wrote, special tokens skipped and the end of turn removed (a last
   *     turn the budget cut is recorded too, unanswered)
   * @param calls the tool calls in it, as the configured parser reads them
   * @param observations the messages the environment answered with (tool results); empty when it ended
   * @param reward the environment's reward for this turn
   */
  public record Turn(String text, List<ToolCall> calls, List<Message> observations, double reward) {
    public Turn {
      calls = List.copyOf(calls);
      observations = List.copyOf(observations);
    }
  }

  public Episode {
    messages = List.copyOf(messages);
    turns = List.copyOf(turns);
  }

  /** Number of assistant tokens (the action mask's sum). */
  public int actionTokens() {
    int n = 0;
    for (float m : actionMask) n += m != 0 ? 1 : 0;
    return n;
  }

  /** The number of tool calls over all turns. */
  public int toolCalls() {
    return turns.stream().mapToInt(t -> t.calls().size()).sum();
  }
}
