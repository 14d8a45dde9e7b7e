package org.rlhf4j.engine;

/** The native library could not be found, loaded, or does not match this jar. Thread-safe. */
public class NativeLibraryException extends RuntimeException {
  public NativeLibraryException(String message) {
    super(message);
  }
}
