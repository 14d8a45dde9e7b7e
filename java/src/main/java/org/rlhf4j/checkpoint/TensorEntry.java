package org.rlhf4j.checkpoint;

import org.rlhf4j.engine.TensorInfo;

/**
 * One tensor of a safetensors file: its name, dtype and shape, and where its bytes lie,
 * as offsets into the data region that follows the header ([begin, end)). Thread-safe as its
 * {@link TensorInfo} is: as long as nobody writes into the shape array.
 */
public record TensorEntry(TensorInfo info, long begin, long end) {
  public TensorEntry {
    if (info == null) throw new IllegalArgumentException("tensor entry: info is required");
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException("tensor entry " + info.name() + ": bad offsets [" + begin + ", " + end + ")");
    }
  }

  public String name() {
    return info.name();
  }

  public long byteSize() {
    return end - begin;
  }
}
