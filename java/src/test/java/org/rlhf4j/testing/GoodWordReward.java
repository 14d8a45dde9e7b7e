package org.rlhf4j.testing;

import java.util.Map;
import org.rlhf4j.ppo.RewardFunction;

/** A reward function for tests: +1 per "good" or "great" in the response, -1 per "bad". */
public final class GoodWordReward implements RewardFunction {
  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    double score = 0;
    for (String word : response.split("\\s+")) {
      if (word.equals("good") || word.equals("great")) score++;
      if (word.equals("bad")) score--;
    }
    return score;
  }
}
