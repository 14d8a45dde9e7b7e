package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * How a model's scoring and training passes trade time for memory (r4j_memory_options).
 *
 * @param logitsChunk rows of LM-head logits computed at once, forward and backward (0 = the
 *     whole [batch, tokens, vocab] at once, the slow twin)
 * @param gradientCheckpointing keep only each transformer block's input in passes that record
 *     gradients and recompute the block in backward (same gradients)
 * @param attentionChunk query rows of attention computed at once, forward and backward, in passes
 *     over more positions (r4j_model_set_attention_chunk; 0 = the whole [batch, heads, T, T]
 *     scores at once, the slow twin)
 */
public record MemoryOptions(long logitsChunk, boolean gradientCheckpointing, long attentionChunk) {

  /** What a new model starts with (r4j_memory_options_defaults). */
  public static final long DEFAULT_LOGITS_CHUNK = 256;

  /** What a new model starts with (r4j_model_get_attention_chunk of a new model). */
  public static final long DEFAULT_ATTENTION_CHUNK = 128;

  public MemoryOptions {
    if (logitsChunk < 0) {
      throw new IllegalArgumentException("logits_chunk must be >= 0 (0 = unchunked), got " + logitsChunk);
    }
    if (attentionChunk < 0) {
      throw new IllegalArgumentException("attention_chunk must be >= 0 (0 = unchunked), got " + attentionChunk);
    }
  }

  /** These logit and checkpointing settings with the default attention chunk. */
  public MemoryOptions(long logitsChunk, boolean gradientCheckpointing) {
    this(logitsChunk, gradientCheckpointing, DEFAULT_ATTENTION_CHUNK);
  }

  public static MemoryOptions defaults() {
    return new MemoryOptions(DEFAULT_LOGITS_CHUNK, false, DEFAULT_ATTENTION_CHUNK);
  }

  /** The struct's fields (r4j_memory_options); the attention chunk is set on its own. */
  void write(MemorySegment s) {
    Struct m = Layouts.MEMORY_OPTIONS;
    m.set(s, "logits_chunk", logitsChunk);
    m.set(s, "gradient_checkpointing", gradientCheckpointing);
  }

  /** The struct's fields; the attention chunk, outside the struct, comes separately. */
  static MemoryOptions read(MemorySegment s, long attentionChunk) {
    Struct m = Layouts.MEMORY_OPTIONS;
    return new MemoryOptions(m.getLong(s, "logits_chunk"), m.getBool(s, "gradient_checkpointing"), attentionChunk);
  }
}
