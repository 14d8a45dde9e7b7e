package org.rlhf4j.serve;

/** A submitted config names a path outside the allowed roots (the HTTP layer answers 403). */
public final class ForbiddenPathException extends RuntimeException {
  public ForbiddenPathException(String message) {
    super(message);
  }
}
