package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * How a model's scoring and training passes trade time for memory (r4j_memory_options).
 *
 * @param logitsChunk rows of LM-head logits computed at once, forward and backward (0 = the
 *     whole [batch, tokens, vocab] at once, the slow twin)
 * @param gradientCheckpointing keep only each transformer block's input in passes that record
 *     gradients and recompute the block in backward (same gradients)
 */
public record MemoryOptions(long logitsChunk, boolean gradientCheckpointing) {

  /** What a new model starts with (r4j_memory_options_defaults). */
  public static final long DEFAULT_LOGITS_CHUNK = 256;

  public MemoryOptions {
    if (logitsChunk < 0) {
      throw new IllegalArgumentException("logits_chunk must be >= 0 (0 = unchunked), got " + logitsChunk);
    }
  }

  public static MemoryOptions defaults() {
    return new MemoryOptions(DEFAULT_LOGITS_CHUNK, false);
  }

  void write(MemorySegment s) {
    Struct m = Layouts.MEMORY_OPTIONS;
    m.set(s, "logits_chunk", logitsChunk);
    m.set(s, "gradient_checkpointing", gradientCheckpointing);
  }

  static MemoryOptions read(MemorySegment s) {
    Struct m = Layouts.MEMORY_OPTIONS;
    return new MemoryOptions(m.getLong(s, "logits_chunk"), m.getBool(s, "gradient_checkpointing"));
  }
}
