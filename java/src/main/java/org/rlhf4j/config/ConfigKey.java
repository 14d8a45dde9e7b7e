package org.rlhf4j.config;

/**
 * One key of a command's configuration, for --help and documentation.
 *
 * @param path full key path, e.g. "ppo.cliprange"
 * @param type short type: bool, int, float, string, path, duration, or the choices "a|b|c";
 *     " or null" is appended when null is allowed
 * @param defaultValue the default as YAML text ("null" when off or not given)
 * @param doc one-line description
 */
public record ConfigKey(String path, String type, String defaultValue, String doc) {}
