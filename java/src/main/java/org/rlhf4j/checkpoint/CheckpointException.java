package org.rlhf4j.checkpoint;

/**
 * A checkpoint could not be written or read: a missing or malformed file, a config this
 * library does not support, or weights that do not fit the model. The message is one line
 * naming the file (and key or tensor) and the reason. Thread-safe.
 */
public class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
