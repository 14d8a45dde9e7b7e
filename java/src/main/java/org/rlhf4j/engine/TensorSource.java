package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** Shared named-tensor I/O of models and optimizers (the *_tensor_* functions). */
abstract class TensorSource {
  static final int MAX_DIMS = 8;
  static final int MAX_NAME = 1024;

  abstract void count(MemorySegment out);

  abstract void info(long index, MemorySegment name, long cap, MemorySegment dtype, MemorySegment ndim,
      MemorySegment shape, int shapeCap);

  abstract void read(MemorySegment name, int dtype, MemorySegment dst, long bytes);

  abstract void write(MemorySegment name, int dtype, MemorySegment src, long bytes);

  /** Every named tensor, in the library's stable order. */
  public List<TensorInfo> tensors() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment n = arena.allocate(ValueLayout.JAVA_LONG);
      count(n);
      long count = n.get(ValueLayout.JAVA_LONG, 0);
      MemorySegment name = arena.allocate(MAX_NAME);
      MemorySegment dtype = arena.allocate(ValueLayout.JAVA_INT);
      MemorySegment ndim = arena.allocate(ValueLayout.JAVA_INT);
      MemorySegment shape = arena.allocate(ValueLayout.JAVA_LONG, MAX_DIMS);
      List<TensorInfo> out = new ArrayList<>();
      for (long i = 0; i < count; i++) {
        info(i, name, MAX_NAME, dtype, ndim, shape, MAX_DIMS);
        long[] dims = new long[ndim.get(ValueLayout.JAVA_INT, 0)];
        for (int d = 0; d < dims.length; d++) dims[d] = shape.getAtIndex(ValueLayout.JAVA_LONG, d);
        out.add(new TensorInfo(name.getString(0), DType.ofCode(dtype.get(ValueLayout.JAVA_INT, 0)), dims));
      }
      return out;
    }
  }

  /** Copies tensor name into dst (dst.byteSize() bytes), converted to dtype. */
  public void readTensor(String name, DType dtype, MemorySegment dst) {
    try (Arena arena = Arena.ofConfined()) {
      read(arena.allocateFrom(name), dtype.code(), dst, dst.byteSize());
    }
  }

  /** Overwrites tensor name from src, whose bytes hold exactly its elements in dtype. */
  public void writeTensor(String name, DType dtype, MemorySegment src) {
    try (Arena arena = Arena.ofConfined()) {
      write(arena.allocateFrom(name), dtype.code(), src, src.byteSize());
    }
  }

  /** The tensor as float32 values. */
  public float[] readFloats(String name, long numel) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = arena.allocate(ValueLayout.JAVA_FLOAT, numel);
      readTensor(name, DType.F32, dst);
      return dst.toArray(ValueLayout.JAVA_FLOAT);
    }
  }

  /** Overwrites the tensor with float32 values. */
  public void writeFloats(String name, float[] values) {
    try (Arena arena = Arena.ofConfined()) {
      writeTensor(name, DType.F32, arena.allocateFrom(ValueLayout.JAVA_FLOAT, values));
    }
  }
}
