package org.rlhf4j.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * One-line description of a config key (or section), shown by {@link ConfigLoader#help()}. Every
 * component of a config record carries one; the loader refuses a record without it.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Doc {
  String value();
}
