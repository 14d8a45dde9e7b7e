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

  /** Element index of the array field (an int32_t or double array of the C struct). */
  void setAt(MemorySegment s, String field, int index, int v) {
    s.set(ValueLayout.JAVA_INT, at(field) + (long) index * Integer.BYTES, v);
  }

  void setAt(MemorySegment s, String field, int index, double v) {
    s.set(ValueLayout.JAVA_DOUBLE, at(field) + (long) index * Double.BYTES, v);
  }

  int getIntAt(MemorySegment s, String field, int index) {
    return s.get(ValueLayout.JAVA_INT, at(field) + (long) index * Integer.BYTES);
  }

  double getDoubleAt(MemorySegment s, String field, int index) {
    return s.get(ValueLayout.JAVA_DOUBLE, at(field) + (long) index * Double.BYTES);
  }
}
