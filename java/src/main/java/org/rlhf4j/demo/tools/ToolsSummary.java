package org.rlhf4j.demo.tools;

import java.util.List;
import java.util.Map;

/**
 * What the tools demo found (DIR/summary.json): the hidden judges on held-out questions, greedy,
 * for the SFT policy (before) and the GRPO policy (after).
 *
 * @param scale the sizes it ran at
 * @param seed the task's and every stage's seed
 * @param questions how many held-out questions the judges asked
 * @param sftEvalLoss SFT's held-out loss per assistant token
 * @param before the SFT policy's rows: accuracy, tool-call rate, accuracy with and without the tool
 * @param after the GRPO policy's rows
 * @param seconds wall-clock seconds per stage (data, sft, grpo, evaluation) and in total
 * @param samplesBefore a few held-out episodes of the SFT policy
 * @param samplesAfter the GRPO policy's episodes for the same questions
 */
public record ToolsSummary(ToolsScale scale, long seed, int questions, double sftEvalLoss, Map<String, Double> before,
    Map<String, Double> after, Map<String, Double> seconds, List<Sample> samplesBefore, List<Sample> samplesAfter) {
  static final String ACCURACY = "exact-match accuracy";
  static final String TOOL_CALL_RATE = "tool-call rate";

  /** A held-out episode: the question, what the policy wrote after it (tool results included), the price. */
  public record Sample(String question, String episode, String gold, boolean correct, boolean calledTool) {}

  public double accuracyBefore() {
    return before.get(ACCURACY);
  }

  public double accuracyAfter() {
    return after.get(ACCURACY);
  }

  public double toolCallRateBefore() {
    return before.get(TOOL_CALL_RATE);
  }

  public double toolCallRateAfter() {
    return after.get(TOOL_CALL_RATE);
  }
}
