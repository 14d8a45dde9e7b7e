package org.rlhf4j.ppo;

import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;

/** A rollout's scores, from a reward model or a Java reward function, written into its SCORES. */
public final class RewardScores {
  private RewardScores() {}

  /**
   * Scores every sample with exactly one of rewardModel (its head, read natively at the last
   * real token) and function (on the decoded prompt and response and the prompt's fields).
   */
  public static float[] score(Rollout rollout, Model rewardModel, RewardFunction function, List<String> prompts,
      List<String> responses, List<Map<String, Object>> fields) {
    if (rewardModel != null) {
      rollout.scoreReward(rewardModel);
      return rollout.floats(RolloutField.SCORES);
    }
    float[] scores = new float[prompts.size()];
    for (int i = 0; i < scores.length; i++) {
      scores[i] = (float) function.score(prompts.get(i), responses.get(i), fields.get(i));
    }
    rollout.write(RolloutField.SCORES, scores);
    return scores;
  }
}
