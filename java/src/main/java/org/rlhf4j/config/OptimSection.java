package org.rlhf4j.config;

/** Section {@code optim}: AdamW and gradient clipping. */
public record OptimSection(
    @Doc("Peak learning rate (reached after warm-up).") double lr,
    @Doc("AdamW beta1.") double beta1,
    @Doc("AdamW beta2.") double beta2,
    @Doc("AdamW epsilon.") double eps,
    @Doc("AdamW decoupled weight decay.") double weightDecay,
    @Doc("Clip the global gradient norm to this (0 = off).") double maxGradNorm) {

  public OptimSection {
    Check.positive("lr", lr);
    Check.halfOpen("beta1", beta1, 0, 1);
    Check.halfOpen("beta2", beta2, 0, 1);
    Check.positive("eps", eps);
    Check.nonNegative("weight_decay", weightDecay);
    Check.nonNegative("max_grad_norm", maxGradNorm);
  }

  /** AdamW(0.9, 0.999, 1e-8), no weight decay, gradient norm clipped to 1, at the given lr. */
  public static OptimSection defaults(double lr) {
    return new OptimSection(lr, 0.9, 0.999, 1e-8, 0, 1.0);
  }
}
