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
    double sftLr,
    int rlIterations,
    int promptsPerIteration,
    int numSamples,
    int minibatch,
    int rlEpochs,
    double rlLr,
    double klCoef) {

  /** The CI run: 2 layers of width 64, 3000 traces x 3 epochs, 30 GRPO iterations of 8 questions x 8 episodes. */
  public static ToolsScale quick() {
    return new ToolsScale(64, 2, 4, 3000, 2, 1e-2, 30, 8, 8, 32, 2, 1e-4, 0.02);
  }

  /** `scripts/rlhf4j demo --task tools`: 3 layers of width 128, 6000 traces x 4 epochs, 60 GRPO iterations. */
  public static ToolsScale full() {
    return new ToolsScale(128, 3, 4, 6000, 4, 2e-3, 60, 8, 8, 32, 2, 5e-5, 0.02);
  }
}
