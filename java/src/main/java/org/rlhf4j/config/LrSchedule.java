package org.rlhf4j.config;

/**
 * Learning rate per optimizer step, as Hugging Face's schedulers compute it: linear warm-up
 * from 0 ({@code lr(s) = baseLr * s / warmupSteps} for {@code s < warmupSteps}), then a
 * constant rate, or a linear or cosine fall from {@code baseLr} to {@code minLrRatio * baseLr}
 * at {@code totalSteps}; steps past the end keep the final rate. Immutable and thread-safe.
 *
 * @param baseLr peak learning rate
 * @param warmupSteps optimizer steps of warm-up, less than totalSteps
 * @param decay shape after warm-up
 * @param minLrRatio final rate as a fraction of baseLr (ignored by constant)
 * @param totalSteps optimizer steps of the whole run
 */
public record LrSchedule(double baseLr, long warmupSteps, Decay decay, double minLrRatio, long totalSteps) {

  public LrSchedule {
    Check.positive("lr", baseLr);
    Check.atLeast("total optimizer steps", totalSteps, 1);
    Check.atLeast("warmup_steps", warmupSteps, 0);
    if (warmupSteps >= totalSteps && warmupSteps > 0) {
      throw new ConfigException("warmup_steps (" + warmupSteps + ") must be less than the total optimizer steps ("
          + totalSteps + ")");
    }
    Check.notNull("decay", decay);
    Check.closed("min_lr_ratio", minLrRatio, 0, 1);
  }

  /** The learning rate of the optimizer step with this 0-based index. */
  public double lr(long step) {
    if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
    if (step < warmupSteps) return baseLr * step / warmupSteps;
    double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
    double fall = switch (decay) {
      case CONSTANT -> 1.0;
      case LINEAR -> 1.0 - progress;
      case COSINE -> 0.5 * (1.0 + Math.cos(Math.PI * progress));
    };
    return baseLr * (minLrRatio + (1.0 - minLrRatio) * fall);
  }
}
