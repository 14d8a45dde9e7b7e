package org.rlhf4j.demo.tools;

/**
 * How big the tools demo is: the model's shape, SFT's traces and steps, and GRPO's iterations,
 * each of promptsPerIteration questions times numSamples episodes.
 */
public record ToolsScale(
    int nEmbd,
    int nLayer,
    int nHead,
    int sftTraces,
    int sftEpochs,
    int sftBatch,
    double sftLr,
    int rlIterations,
    int promptsPerIteration,
    int numSamples,
    int minibatch,
    int rlEpochs,
    double rlLr,
    double klCoef) {

  /**
   * The CI run: 2 layers of width 64; 3000 traces x 3 epochs in batches of 32 at a constant
   * 1e-2 (fewer steps leave the dish and the price half copied); 20 GRPO iterations of 8
   * questions x 8 episodes at 3e-4 (its tool-call rate in training saturates by about 13).
   */
  public static ToolsScale quick() {
    return new ToolsScale(64, 2, 4, 3000, 3, 32, 1e-2, 20, 8, 8, 32, 2, 3e-4, 0.02);
  }

  /** `scripts/rlhf4j demo --task tools`: the same model; 6000 traces x 3 epochs; 40 GRPO iterations. */
  public static ToolsScale full() {
    return new ToolsScale(64, 2, 4, 6000, 3, 32, 1e-2, 40, 8, 8, 32, 2, 3e-4, 0.02);
  }
}
