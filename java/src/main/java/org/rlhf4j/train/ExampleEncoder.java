package org.rlhf4j.train;

import java.util.Arrays;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * Turns a prompt and its completion into the tokens a supervised trainer reads:
 * {@code encodePrompt(prompt)} (BOS first when the tokenizer wants one), then {@code
 * encode(completion)}, then EOS. EOS is always there (unless the completion already ends with
 * it): it is what teaches the model to stop. A plain text is {@code encodePrompt(text)} then EOS.
 *
 * <p>The completion is tokenized on its own, not together with its prompt. With byte-level BPE
 * (GPT-2, Llama 3) the space between prompt and completion therefore belongs at the start of
 * the completion ({@code {"prompt": "The capital of France is", "completion": " Paris."}}), as
 * in TRL's prompt-completion datasets.
 *
 * <p>Limits, applied per data.too_long: a prompt over data.max_prompt_tokens is skipped, or cut
 * to its BOS and last tokens (the end of a prompt is what the completion follows, as PPO's
 * prompt pool cuts it); then a sequence over max_seq_len is skipped, or cut to its first
 * max_seq_len tokens (TRL's keep-start truncation; the cut loses EOS).
 *
 * <p>Immutable and thread-safe.
 */
public final class ExampleEncoder {
  /** An encoded example; truncated when a limit cut it. */
  public record Encoded(SftExample example, boolean truncated) {}

  private final Tokenizer tokenizer;
  private final int maxPromptTokens;
  private final int maxSeqLen;
  private final TooLong tooLong;

  /**
   * @param maxSeqLen the longest sequence (sft.max_seq_len or rm.max_seq_len)
   * @throws IllegalArgumentException when the tokenizer has no EOS token
   */
  public ExampleEncoder(Tokenizer tokenizer, DataSection data, int maxSeqLen) {
    if (tokenizer.eosId() < 0) {
      throw new IllegalArgumentException("the tokenizer has no EOS token; supervised training ends every example "
          + "with one so that the model learns to stop");
    }
    if (maxSeqLen <= data.maxPromptTokens()) {
      throw new IllegalArgumentException("max_seq_len (" + maxSeqLen + ") must exceed data.max_prompt_tokens ("
          + data.maxPromptTokens() + ")");
    }
    this.tokenizer = tokenizer;
    this.maxPromptTokens = data.maxPromptTokens();
    this.maxSeqLen = maxSeqLen;
    this.tooLong = data.tooLong();
  }

  /**
   * The example of prompt and completion, or null when a limit skips it.
   *
   * @param where {@code file:line}, for errors
   * @param prompt the prompt, or null for a plain text (then completion is the text)
   * @throws DataException when the prompt or the text has no tokens
   */
  public Encoded encode(String where, String prompt, String completion) {
    return encode(where, prompt, completion, false);
  }

  /**
   * As {@link #encode(String, String, String)}; a text rendered by a chat template (rendered) is
   * tokenized as it is, without an added BOS: the template writes any itself.
   */
  public Encoded encode(String where, String prompt, String completion, boolean rendered) {
    boolean truncated = false;
    int bos = !rendered && tokenizer.prependsBos() && tokenizer.bosId() >= 0 ? 1 : 0;
    int[] head;
    int[] body;
    if (prompt == null) {
      head = new int[0];
      body = rendered ? tokenizer.encode(completion) : tokenizer.encodePrompt(completion);
      if (body.length <= bos) throw new DataException(where + ": the text has no tokens");
    } else {
      head = rendered ? tokenizer.encode(prompt) : tokenizer.encodePrompt(prompt);
      if (head.length <= bos) throw new DataException(where + ": the prompt has no tokens");
      if (head.length > maxPromptTokens) {
        if (tooLong == TooLong.SKIP) return null;
        head = keepEnd(head, bos, maxPromptTokens);
        truncated = true;
      }
      body = tokenizer.encode(completion);
    }
    boolean hasEos = body.length > 0 && body[body.length - 1] == tokenizer.eosId();
    int[] tokens = Arrays.copyOf(head, head.length + body.length + (hasEos ? 0 : 1));
    System.arraycopy(body, 0, tokens, head.length, body.length);
    tokens[tokens.length - 1] = tokenizer.eosId();
    if (tokens.length > maxSeqLen) {
      if (tooLong == TooLong.SKIP) return null;
      tokens = Arrays.copyOf(tokens, maxSeqLen);
      truncated = true;
    }
    return new Encoded(new SftExample(tokens, head.length), truncated);
  }

  /** The first keep leading tokens (BOS) and the last max - keep of the rest. */
  private static int[] keepEnd(int[] tokens, int keep, int max) {
    int[] out = new int[max];
    System.arraycopy(tokens, 0, out, 0, keep);
    System.arraycopy(tokens, tokens.length - (max - keep), out, keep, max - keep);
    return out;
  }
}
