package org.rlhf4j.checkpoint;

/**
 * A safetensors file is malformed or unreadable; the message names the file and the problem.
 * Thread-safe.
 */
public class SafetensorsException extends CheckpointException {
  public SafetensorsException(String source, String problem) {
    super(source + ": " + problem);
  }

  public SafetensorsException(String source, String problem, Throwable cause) {
    super(source + ": " + problem, cause);
  }
}
