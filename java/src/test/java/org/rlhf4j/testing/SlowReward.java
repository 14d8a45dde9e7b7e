package org.rlhf4j.testing;

import java.util.Map;
import org.rlhf4j.ppo.RewardFunction;

/**
 * {@link GoodWordReward} that takes 15 ms a response, so that a tiny PPO run lasts long enough
 * for a test to act while it runs (cancel it, stop its service).
 */
public final class SlowReward implements RewardFunction {
  private final GoodWordReward scores = new GoodWordReward();

  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    try {
      Thread.sleep(15);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return scores.score(prompt, response, fields);
  }
}
