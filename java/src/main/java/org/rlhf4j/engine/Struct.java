package org.rlhf4j.engine;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/** Named field access to a C struct laid out by a {@link StructLayout}. */
final class Struct {
  private final StructLayout layout;

  Struct(StructLayout layout) {
    this.layout = layout;
  }

  StructLayout layout() {
    return layout;
  }

  private long at(String field) {
    return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
  }

  int getInt(MemorySegment s, String field) {
    return s.get(ValueLayout.JAVA_INT, at(field));
  }

  long getLong(MemorySegment s, String field) {
    return s.get(ValueLayout.JAVA_LONG, at(field));
  }

  double getDouble(MemorySegment s, String field) {
    return s.get(ValueLayout.JAVA_DOUBLE, at(field));
  }

  boolean getBool(MemorySegment s, String field) {
    return getInt(s, field) != 0;
  }

  void set(MemorySegment s, String field, int v) {
    s.set(ValueLayout.JAVA_INT, at(field), v);
  }

  void set(MemorySegment s, String field, long v) {
    s.set(ValueLayout.JAVA_LONG, at(field), v);
  }

  void set(MemorySegment s, String field, double v) {
    s.set(ValueLayout.JAVA_DOUBLE, at(field), v);
  }

  void set(MemorySegment s, String field, boolean v) {
    set(s, field, v ? 1 : 0);
  }
}
