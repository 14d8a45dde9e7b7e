package org.rlhf4j.ppo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;

/** A rollout's scores, from a reward model, Java reward functions or a remote service, written into its SCORES. */
public final class RewardScores {
  private RewardScores() {}

  /**
   * The scores and, with several weighted functions, each one's value per sample (by label, in
   * order; empty otherwise).
   */
  public record Scores(float[] total, Map<String, float[]> terms) {}

  /**
   * Scores every sample with exactly one of rewardModel (its head, read natively at the last
   * real token) and function (on the decoded prompt and response and the prompt's fields).
   */
  public static float[] score(Rollout rollout, Model rewardModel, RewardFunction function, List<String> prompts,
      List<String> responses, List<Map<String, Object>> fields) {
    return scoreTerms(rollout, rewardModel, function, prompts, responses, fields).total();
  }

  /** {@link #score} with each weighted function's values kept. */
  public static Scores scoreTerms(Rollout rollout, Model rewardModel, RewardFunction function, List<String> prompts,
      List<String> responses, List<Map<String, Object>> fields) {
    if (rewardModel != null) {
      rollout.scoreReward(rewardModel);
      return new Scores(rollout.floats(RolloutField.SCORES), Map.of());
    }
    float[] scores = new float[prompts.size()];
    Map<String, float[]> terms = new LinkedHashMap<>();
    if (function instanceof BatchReward b) {
      BatchReward.Result r = b.scoreAll(prompts, responses, fields);
      if (r.rewards().length != scores.length) {
        throw new IllegalStateException("reward: " + function.getClass().getName() + " gave " + r.rewards().length
            + " rewards for " + scores.length + " samples");
      }
      System.arraycopy(r.rewards(), 0, scores, 0, scores.length);
      terms.putAll(r.logs());
    } else if (function instanceof WeightedRewards w) {
      List<String> labels = w.labels();
      for (String l : labels) terms.put(l, new float[scores.length]);
      for (int i = 0; i < scores.length; i++) {
        double[] v = w.values(prompts.get(i), responses.get(i), fields.get(i));
        for (int k = 0; k < v.length; k++) terms.get(labels.get(k))[i] = (float) v[k];
        scores[i] = (float) w.combine(v);
      }
    } else {
      for (int i = 0; i < scores.length; i++) {
        scores[i] = (float) function.score(prompts.get(i), responses.get(i), fields.get(i));
      }
    }
    rollout.write(RolloutField.SCORES, scores);
    return new Scores(scores, terms);
  }
}
