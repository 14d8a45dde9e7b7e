package org.rlhf4j.demo.tools;

import java.util.Map;
import org.rlhf4j.ppo.RewardFunction;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The tools demo's verifiable reward: 1 when the episode's final answer is exactly the prompt
 * row's {@code answer} field, else 0. The final answer is what the last assistant turn says:
 * the response after its last {@code <assistant>} (the whole response when the model answered at
 * once), which must not be a tool call. Stateless; thread-safe.
 */
public final class ExactMatchReward implements RewardFunction {
  /** The prompt row's field with the right answer. */
  public static final String ANSWER = "answer";

  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    if (!(fields.get(ANSWER) instanceof String answer)) {
      throw new IllegalArgumentException("exact-match reward: the prompt row has no \"" + ANSWER + "\" string");
    }
    return finalAnswer(response).equals(answer) ? 1 : 0;
  }

  /** The last assistant turn's text, stripped; empty when that turn is a tool call. */
  static String finalAnswer(String response) {
    int last = response.lastIndexOf(ToolsTemplate.ASSISTANT);
    String answer = (last < 0 ? response : response.substring(last + ToolsTemplate.ASSISTANT.length()))
        .replace(WordTokenizer.EOS, "").strip();
    return answer.contains("<tool_call>") ? "" : answer;
  }
}
