package org.rlhf4j.train;

import org.rlhf4j.config.RunSection.OnNonFinite;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * run.on_nonfinite: what a trainer does when a loss, a gradient, a score or an advantage is NaN
 * or Inf. The trainer skips the step (or iteration) and counts it; this says whether that is
 * a warning (skip) or the end of the run (stop, by a {@link NonFiniteException}).
 */
public record NonFinitePolicy(OnNonFinite mode) {
  private static final Logger LOG = LoggerFactory.getLogger(NonFinitePolicy.class);

  /**
   * Notes a skip: what happened (e.g. "optimizer step 3: the gradients are NaN or Inf") and
   * what was skipped (e.g. "the step was skipped").
   *
   * @throws NonFiniteException when run.on_nonfinite is stop
   */
  public void skipped(String what, String consequence) {
    if (mode == OnNonFinite.STOP) throw new NonFiniteException(what + " (run.on_nonfinite is stop)");
    LOG.warn("{}; {}", what, consequence);
  }
}
