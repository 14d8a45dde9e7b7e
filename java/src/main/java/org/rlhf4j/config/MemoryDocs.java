package org.rlhf4j.config;

/** The documentation of the memory keys that the model sections of every command share. */
final class MemoryDocs {
  static final String LOGITS_CHUNK = "Rows of LM-head logits computed at once in scoring and training passes, "
      + "forward and backward (0 = the whole [batch, tokens, vocab] at once).";
  static final String ATTENTION_CHUNK = "Query rows of attention computed at once in scoring and training passes, "
      + "forward and backward (0 = the whole [batch, heads, T, T] scores at once; passes with attention dropout "
      + "always use the whole matrix).";
  static final String GRADIENT_CHECKPOINTING = "Recompute each transformer block in backward instead of keeping "
      + "its activations (same gradients, about a third more compute in the learning phase).";

  static final String LORA = "LoRA adapters on the frozen base (r = 0: off).";

  private MemoryDocs() {}
}
