package org.rlhf4j.engine;

import java.util.Arrays;

/**
 * A named tensor's description: its Hugging Face name, dtype and shape. Thread-safe as long as
 * nobody writes into the shape array, which is not copied.
 */
public record TensorInfo(String name, DType dtype, long[] shape) {
  public long numel() {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype && Arrays.equals(t.shape, shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype + " " + Arrays.toString(shape);
  }
}
