package org.rlhf4j.train;

/** A NaN or Inf stopped the run (run.on_nonfinite: stop); the last checkpoint is intact. */
public class NonFiniteException extends RuntimeException {
  public NonFiniteException(String message) {
    super(message);
  }
}
