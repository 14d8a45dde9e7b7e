package org.rlhf4j.demo;

import java.util.List;
import java.util.Map;

/**
 * What the demo found (DIR/summary.json): the reward model's held-out pairwise accuracy, the
 * before/after table on held-out prompts, the gold curve during PPO, stage times and samples.
 *
 * @param preset the ppo.preset of the RL stage (seed, standard, or the algorithm: grpo, ...)
 * @param reward what scored the RL stage: the reward model (model) or the gold judge (gold)
 * @param scale the sizes the demo ran at
 * @param sftEvalLoss SFT's held-out loss per completion token
 * @param rmAccuracy the reward model's held-out pairwise accuracy
 * @param before the SFT policy on held-out prompts (rows of the table)
 * @param after the PPO policy on the same prompts
 * @param goldCurve gold reward, positive share, validity, reward-model score and KL during PPO
 * @param seconds wall-clock seconds per stage and in total
 * @param samplesBefore a few held-out generations of the SFT policy
 * @param samplesAfter the PPO policy's generations for the same prompts
 */
public record DemoSummary(
    String preset,
    String reward,
    DemoScale scale,
    double sftEvalLoss,
    double rmAccuracy,
    Map<String, Double> before,
    Map<String, Double> after,
    List<Map<String, Double>> goldCurve,
    Map<String, Double> seconds,
    List<Sample> samplesBefore,
    List<Sample> samplesAfter) {

  /** A held-out generation with its judges' verdicts. */
  public record Sample(String prompt, String response, double gold, boolean valid, double rmScore) {}

  public double goldBefore() {
    return before.get("gold reward (mean)");
  }

  public double goldAfter() {
    return after.get("gold reward (mean)");
  }

  public double positiveBefore() {
    return before.get("positive share (gold)");
  }

  public double positiveAfter() {
    return after.get("positive share (gold)");
  }

  public double validityAfter() {
    return after.get("validity rate");
  }
}
