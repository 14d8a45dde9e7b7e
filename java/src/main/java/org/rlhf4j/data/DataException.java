package org.rlhf4j.data;

/**
 * A data file the user gave is wrong: missing, not UTF-8, a bad line ({@code file:line: reason}),
 * or nothing usable left in it. An {@link IllegalArgumentException}, so the CLI reports it as a
 * usage error (exit 2). Thread-safe.
 */
public final class DataException extends IllegalArgumentException {
  public DataException(String message) {
    super(message);
  }
}
