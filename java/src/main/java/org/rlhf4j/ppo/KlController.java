package org.rlhf4j.ppo;

/**
 * The KL penalty coefficient beta of r = score - beta * KL, as two tiny controllers (Ziegler et
 * al. 2019, lm-human-preferences): fixed, or adaptive towards a target KL. Its value is part of
 * the trainer state. Not thread-safe.
 */
public sealed interface KlController permits KlController.Fixed, KlController.Adaptive {
  /** The current coefficient. */
  double value();

  /**
   * Updates after an iteration whose samples had mean KL {@code currentKl} (summed over each
   * response's tokens), over {@code nSteps} samples.
   */
  void update(double currentKl, long nSteps);

  /** Restores the coefficient from a checkpoint. */
  void restore(double value);

  /** beta never changes. */
  final class Fixed implements KlController {
    private double value;

    public Fixed(double value) {
      this.value = value;
    }

    @Override
    public double value() {
      return value;
    }

    @Override
    public void update(double currentKl, long nSteps) {}

    @Override
    public void restore(double v) {
      value = v;
    }
  }

  /**
   * Proportional control of log(beta) towards the target:
   * e = clip(KL / target - 1, -0.2, 0.2); beta *= 1 + e * nSteps / horizon.
   */
  final class Adaptive implements KlController {
    private double value;
    private final double target;
    private final double horizon;

    public Adaptive(double initial, double target, double horizon) {
      if (!(target > 0) || !(horizon > 0)) {
        throw new IllegalArgumentException("adaptive KL: target and horizon must be > 0");
      }
      this.value = initial;
      this.target = target;
      this.horizon = horizon;
    }

    @Override
    public double value() {
      return value;
    }

    @Override
    public void update(double currentKl, long nSteps) {
      double proportionalError = Math.max(-0.2, Math.min(0.2, currentKl / target - 1));
      value *= 1 + proportionalError * nSteps / horizon;
    }

    @Override
    public void restore(double v) {
      value = v;
    }
  }
}
