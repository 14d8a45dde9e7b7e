package org.rlhf4j.ppo;

import java.util.List;
import java.util.Map;

/**
 * A reward function that scores a whole rollout at once (a remote service, say) and may report
 * more per-sample values, logged as {@code reward/<key>}.
 */
public interface BatchReward extends RewardFunction {
  /**
   * The scores of one batch.
   *
   * @param rewards one per sample
   * @param logs per-sample values by key, each as long as rewards
   */
  record Result(float[] rewards, Map<String, float[]> logs) {}

  Result scoreAll(List<String> prompts, List<String> responses, List<Map<String, Object>> fields);

  @Override
  default double score(String prompt, String response, Map<String, Object> fields) {
    return scoreAll(List.of(prompt), List.of(response), List.of(fields)).rewards()[0];
  }
}
