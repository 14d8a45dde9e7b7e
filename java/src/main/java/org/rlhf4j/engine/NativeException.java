package org.rlhf4j.engine;

/** A call into the native library failed; carries its status code and one-line message. Thread-safe. */
public class NativeException extends RuntimeException {
  private final int status;
  private final String function;

  public NativeException(String function, int status, String message) {
    super(message == null || message.isEmpty() ? function + ": " + Status.name(status) : message);
    this.status = status;
    this.function = function;
  }

  /** The r4j_status code (one of {@link Status}). */
  public int status() {
    return status;
  }

  /** The C function that failed, e.g. {@code r4j_generate}. */
  public String function() {
    return function;
  }
}
