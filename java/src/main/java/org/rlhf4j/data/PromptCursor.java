package org.rlhf4j.data;

/**
 * Where a {@link PromptPool} stands: the next prompt is the one at position of epoch's order.
 * Save it with the trainer state (Jackson writes and reads it as a JSON object) and hand it to
 * {@link PromptPool#restore} to continue the same sequence. Immutable and thread-safe.
 *
 * @param epoch 0-based epoch
 * @param position index into that epoch's order, 0 <= position < pool size
 * @param fingerprint identifies the pool's prompts, tokens, seed and shuffle setting, so that a
 *     cursor is not restored into a pool it does not belong to
 */
public record PromptCursor(long epoch, int position, long fingerprint) {
  public PromptCursor {
    if (epoch < 0) throw new IllegalArgumentException("prompt cursor epoch must be >= 0, got " + epoch);
    if (position < 0) throw new IllegalArgumentException("prompt cursor position must be >= 0, got " + position);
  }
}
