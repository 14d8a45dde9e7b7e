package org.rlhf4j.serve;

/** A request the job manager refuses: no such job, or not in a state that allows it. One line. */
public final class JobException extends RuntimeException {
  /** Why: the HTTP layer answers 404 and 409. */
  public enum Reason { NOT_FOUND, CONFLICT }

  private final Reason reason;

  public JobException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
