package org.rlhf4j.config;

/**
 * A configuration the user wrote is wrong: unknown key, wrong type, value out of range, broken
 * cross-field rule or YAML syntax error. The message is one line naming the key (and the file
 * or {@code --set} where it came from) and the reason. An {@link IllegalArgumentException}, so
 * the CLI reports it as a usage error (exit 2).
 */
public final class ConfigException extends IllegalArgumentException {
  public ConfigException(String message) {
    super(message);
  }
}
