package org.rlhf4j.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The bound of a numeric key, checked by the loader on every value a user gives (a null
 * {@link Nullable} value is "off" and not checked); non-finite values are always rejected. The
 * one place a key's bound is written: the loader's check, its message and the bounds test read it.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
@interface Range {
  double min() default Double.NEGATIVE_INFINITY;

  /** min itself is out of range. */
  boolean minExclusive() default false;

  double max() default Double.POSITIVE_INFINITY;

  /** max itself is out of range. */
  boolean maxExclusive() default false;
}
