package org.rlhf4j.config;

/**
 * A named set of defaults for one section. A section record with a component of a type that
 * implements this (an enum, e.g. {@link PpoPreset}) takes the defaults of its keys from the
 * preset the user chose; keys the user wrote override them.
 *
 * @param <R> the section record
 */
public interface ConfigPreset<R extends Record> {
  /** The section with every key at this preset's value (and the preset key set to this). */
  R defaults();
}
