package org.rlhf4j.tokenizer;

/**
 * Text to token ids and back. Implementations: the built-in word-level tokenizer of the demo
 * task, GPT-2's byte-level BPE ({@code vocab.json} + {@code merges.txt}), and Hugging Face
 * {@code tokenizer.json} files.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Tokenizer {
  /** Token ids of text, without special tokens added. */
  int[] encode(String text);

  /** The text of ids; special tokens are kept as their text unless skipped. */
  String decode(int[] ids, boolean skipSpecialTokens);

  default String decode(int[] ids) {
    return decode(ids, true);
  }

  /** Number of ids (the model's vocab_size must be at least this). */
  int vocabSize();

  /** Beginning-of-sequence id, or -1. */
  int bosId();

  /** End-of-sequence id (generation stops after it), or -1. */
  int eosId();

  /** Padding id (never attended to; any valid id works). */
  int padId();

  /** The id padding is written with: the pad id, else EOS, else 0 (padding is never attended to). */
  default int paddingId() {
    return padId() >= 0 ? padId() : Math.max(eosId(), 0);
  }

  /**
   * Whether a sequence (a prompt, an SFT example) starts with BOS, as Llama-style tokenizers
   * and the demo's word tokenizer have it; GPT-2's does not.
   */
  default boolean prependsBos() {
    return false;
  }

  /** Token ids of a prompt as the model reads it: BOS first when {@link #prependsBos()}. */
  default int[] encodePrompt(String text) {
    int[] ids = encode(text);
    if (!prependsBos() || bosId() < 0) return ids;
    int[] out = new int[ids.length + 1];
    out[0] = bosId();
    System.arraycopy(ids, 0, out, 1, ids.length);
    return out;
  }
}
