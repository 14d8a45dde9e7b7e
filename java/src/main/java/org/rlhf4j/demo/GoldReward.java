package org.rlhf4j.demo;

import java.util.Map;
import org.rlhf4j.demo.task.ReviewTask;
import org.rlhf4j.ppo.RewardFunction;

/**
 * The review task's gold sentiment judge as a verifiable reward (RLVR: {@code demo --reward
 * gold}): (positive - negative) / (positive + negative) lexicon words of the response, in [-1, 1].
 * The lexicon is the same for every task seed. Stateless; thread-safe.
 */
public final class GoldReward implements RewardFunction {
  private final ReviewTask task = new ReviewTask(0);

  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    return task.goldReward(prompt, response);
  }
}
