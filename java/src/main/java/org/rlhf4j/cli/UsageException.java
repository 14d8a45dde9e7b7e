package org.rlhf4j.cli;

/** Bad usage or configuration: the CLI prints the message and exits 2. */
public class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
