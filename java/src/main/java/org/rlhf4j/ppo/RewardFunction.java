package org.rlhf4j.ppo;

import java.util.Map;

/**
 * A score computed in Java instead of by a reward model. Gets the decoded prompt and response
 * and the prompt's other JSONL fields; returns the score added on the response's last token.
 * Implementations named in {@code reward.function} need a public no-argument constructor. Called
 * from the training thread only.
 */
@FunctionalInterface
public interface RewardFunction {
  double score(String prompt, String response, Map<String, Object> fields);
}
