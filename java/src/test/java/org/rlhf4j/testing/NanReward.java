package org.rlhf4j.testing;

import java.util.Map;
import org.rlhf4j.ppo.RewardFunction;

/** A broken reward function for tests: every score is NaN. */
public final class NanReward implements RewardFunction {
  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    return Double.NaN;
  }
}
