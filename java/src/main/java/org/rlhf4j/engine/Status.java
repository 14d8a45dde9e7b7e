package org.rlhf4j.engine;

/** The r4j_status codes of rlhf4j.h. Constants and a stateless lookup: thread-safe. */
public final class Status {
  public static final int OK = 0;
  public static final int INVALID_ARGUMENT = 1;
  public static final int INVALID_HANDLE = 2;
  public static final int BUFFER_TOO_SMALL = 3;
  public static final int NOT_FOUND = 4;
  public static final int DEVICE = 5;
  public static final int BUSY = 6;
  public static final int NON_FINITE = 7;
  public static final int RUNTIME = 8;

  private Status() {}

  public static String name(int status) {
    return switch (status) {
      case OK -> "OK";
      case INVALID_ARGUMENT -> "INVALID_ARGUMENT";
      case INVALID_HANDLE -> "INVALID_HANDLE";
      case BUFFER_TOO_SMALL -> "BUFFER_TOO_SMALL";
      case NOT_FOUND -> "NOT_FOUND";
      case DEVICE -> "DEVICE";
      case BUSY -> "BUSY";
      case NON_FINITE -> "NON_FINITE";
      case RUNTIME -> "RUNTIME";
      default -> "status " + status;
    };
  }
}
