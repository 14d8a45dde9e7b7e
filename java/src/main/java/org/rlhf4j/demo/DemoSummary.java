package org.rlhf4j.demo;

import java.util.List;
import java.util.Map;

/**
 * What the demo found (DIR/summary.json): the reward model's held-out pairwise accuracy, the SFT
 * policy's table on held-out prompts, and for each RL algorithm run from that SFT policy its
 * table on the same prompts, its gold curve, time and memory.
 *
 * @param reward what scored the RL stage: the reward model (model) or the gold judge (gold)
 * @param scale the sizes the demo ran at
 * @param sftEvalLoss SFT's held-out loss per completion token
 * @param rmAccuracy the reward model's held-out pairwise accuracy
 * @param before the SFT policy on held-out prompts (rows of the table)
 * @param runs the RL runs, in the order they ran
 * @param seconds wall-clock seconds of the shared stages (data, sft, rm, evaluation) and in total
 * @param samplesBefore a few held-out generations of the SFT policy
 */
public record DemoSummary(
    String reward,
    DemoScale scale,
    double sftEvalLoss,
    double rmAccuracy,
    Map<String, Double> before,
    List<Run> runs,
    Map<String, Double> seconds,
    List<Sample> samplesBefore) {

  /** A held-out generation with its judges' verdicts. */
  public record Sample(String prompt, String response, double gold, boolean valid, double rmScore) {}

  /**
   * One RL algorithm's run from the SFT policy.
   *
   * @param algo the demo's --algo (ppo, grpo, ...)
   * @param preset the ppo.preset it ran (seed or standard for ppo, else the algorithm)
   * @param after its policy on the held-out prompts of {@link #before()}
   * @param goldCurve gold reward, positive share, validity, reward-model score and KL during RL
   * @param seconds wall-clock seconds of its RL stage
   * @param peakRssGb the process's peak RSS (GB) during its RL stage (NaN off Linux)
   * @param samplesAfter its generations for the prompts of {@link #samplesBefore()}
   */
  public record Run(String algo, String preset, Map<String, Double> after, List<Map<String, Double>> goldCurve,
      double seconds, double peakRssGb, List<Sample> samplesAfter) {
    public double goldAfter() {
      return after.get("gold reward (mean)");
    }

    public double positiveAfter() {
      return after.get("positive share (gold)");
    }

    public double validityAfter() {
      return after.get("validity rate");
    }

    public double klAfter() {
      return after.get("KL to reference");
    }
  }

  /** The run of algo. */
  public Run run(String algo) {
    return runs.stream().filter(r -> r.algo().equals(algo)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("the demo ran no '" + algo + "'"));
  }

  public double goldBefore() {
    return before.get("gold reward (mean)");
  }

  public double positiveBefore() {
    return before.get("positive share (gold)");
  }

  public double validityBefore() {
    return before.get("validity rate");
  }
}
