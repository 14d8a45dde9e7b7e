package org.rlhf4j.config;

/**
 * The whole configuration of one command: a record whose components are sections. Ranges of
 * single keys are checked by each section's constructor; rules across keys are checked here.
 */
public interface CommandConfig {
  /**
   * Checks the rules that involve several keys or that a runnable command needs (required
   * paths). The loader calls it after building the record; defaults alone need not pass.
   *
   * @throws ConfigException naming the keys involved
   */
  void validate();
}
