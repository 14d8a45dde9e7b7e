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
    double ppoLr,
    double klCoef,
    int evalPrompts) {

  public static DemoScale full() {
    return new DemoScale(128, 4, 4, 24000, 3, 1e-3, 6000, 0.1, 2, 3e-4, 80, 64, 16, 5e-5, 0.05, 256);
  }

  public static DemoScale quick() {
    return new DemoScale(64, 2, 4, 8000, 2, 2e-3, 3000, 0.1, 2, 5e-4, 30, 32, 16, 1e-4, 0.05, 128);
  }
}
