package org.rlhf4j.config;

import java.util.Map;

/**
 * A named set of values for keys of one section. When a section record has a component of a
 * type that implements this (an enum, e.g. {@link PpoPreset}), the loader applies the chosen
 * preset's values as "--set section.key=value" would, beneath the file and every --set: a key
 * the user wrote wins wherever it was written, and the effective config shows what the preset set.
 */
public interface ConfigPreset {
  /** Key (snake_case, within the section) to value as YAML text, in the section's key order. */
  Map<String, String> overrides();
}
