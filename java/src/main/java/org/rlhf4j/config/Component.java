package org.rlhf4j.config;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;

/** One component of a config record as the loader sees it: key, type, nullability, doc. */
record Component(RecordComponent component, String key, boolean nullable, String doc) {

  /**
   * The components of a config record, in declaration order.
   *
   * @throws IllegalStateException when the record breaks the rules for config records (a
   *     programming error, not a user's): a component without {@link Doc}, of a type the loader
   *     cannot read, or a primitive marked {@link Nullable}
   */
  static List<Component> of(Class<?> recordType) {
    if (!recordType.isRecord()) throw new IllegalStateException(recordType.getName() + " is not a record");
    List<Component> out = new ArrayList<>();
    for (RecordComponent rc : recordType.getRecordComponents()) {
      String where = recordType.getSimpleName() + "." + rc.getName();
      Doc doc = rc.getAnnotation(Doc.class);
      if (doc == null) throw new IllegalStateException(where + " has no @Doc");
      boolean nullable = rc.isAnnotationPresent(Nullable.class);
      Class<?> t = rc.getType();
      if (nullable && t.isPrimitive()) throw new IllegalStateException(where + " is primitive but @Nullable");
      if (ConfigPreset.class.isAssignableFrom(t) && !t.isEnum()) {
        throw new IllegalStateException(where + " is a preset but not an enum");
      }
      if (rc.isAnnotationPresent(Range.class) && !(t.isPrimitive() || Number.class.isAssignableFrom(t))
          || t == boolean.class && rc.isAnnotationPresent(Range.class)) {
        throw new IllegalStateException(where + " has a @Range but is not a number");
      }
      if (!t.isRecord() && !ConfigValues.supports(t)) {
        throw new IllegalStateException(where + " has a type the config loader cannot read: " + t.getName());
      }
      out.add(new Component(rc, Keys.snake(rc.getName()), nullable, doc.value()));
    }
    return out;
  }

  Class<?> type() {
    return component.getType();
  }

  boolean isSection() {
    return type().isRecord();
  }

  /** The key's bound, or null when it has none. */
  Range range() {
    return component.getAnnotation(Range.class);
  }

  boolean isPreset() {
    return ConfigPreset.class.isAssignableFrom(type());
  }

  Object get(Record r) {
    try {
      return component.getAccessor().invoke(r);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + component, e);
    }
  }
}
