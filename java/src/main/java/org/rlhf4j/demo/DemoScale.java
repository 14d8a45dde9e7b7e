package org.rlhf4j.demo;

/**
 * How big the demo is: the model's shape and each stage's data and steps. {@link #full()} is what
 * `scripts/rlhf4j demo` runs (a few minutes on 2 cores); {@link #quick()} is the CI version.
 */
public record DemoScale(
    int nEmbd,
    int nLayer,
    int nHead,
    int sftExamples,
    int sftEpochs,
    double sftLr,
    int pairs,
    double labelNoise,
    int rmEpochs,
    double rmLr,
    int ppoIterations,
    int rolloutBatch,
    int minibatch,
    int ppoEpochs,
    double ppoLr,
    double klCoef,
    int evalPrompts,
    double dpoLr) {

  /**
   * 4 layers of width 128; 40k SFT examples x 4 epochs, 10k pairs x 2, 100 RL iterations of 64
   * samples, 4 epochs of minibatches of 16; DPO 2 epochs over the pairs.
   */
  public static DemoScale full() {
    return new DemoScale(128, 4, 4, 40000, 4, 2e-3, 10000, 0.1, 2, 3e-4, 100, 64, 16, 4, 5e-5, 0.1, 256, 3e-4);
  }

  /** 3 layers; 20k SFT examples x 4 epochs, 4k pairs x 2, 60 RL iterations of 32 samples, 4 x 16. */
  public static DemoScale quick() {
    return new DemoScale(128, 3, 4, 20000, 4, 2e-3, 4000, 0.1, 2, 5e-4, 60, 32, 16, 4, 5e-5, 0.1, 256, 3e-4);
  }
}
