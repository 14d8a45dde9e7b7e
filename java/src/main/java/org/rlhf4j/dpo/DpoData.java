package org.rlhf4j.dpo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.Row;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.RowSplit;
import org.rlhf4j.train.SupervisedData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DPO's pairs, tokenized as TRL tokenizes them: the prompt's tokens, and for each side the
 * tokens of prompt + completion minus the prompt's (so a BPE merge across the boundary stays
 * with the completion), EOS appended. dpo.max_length cuts prompt + completion keeping the
 * start; a pair whose prompt alone reaches it is dropped and counted. Data lines are {@code
 * {"prompt", "chosen", "rejected"}} (the prompt field is data.prompt_field), the train-rm format;
 * as in TRL, a completion starts with its separating space ({@code " Paris."}).
 *
 * @param skippedTooLong pairs dropped because the prompt alone reaches dpo.max_length
 * @param truncated pairs with a side cut to dpo.max_length
 */
public record DpoData(List<DpoPair> train, List<DpoPair> eval, int skippedTooLong, int truncated)
    implements SupervisedData<DpoPair> {
  private static final Logger LOG = LoggerFactory.getLogger(DpoData.class);

  public DpoData {
    train = List.copyOf(train);
    eval = List.copyOf(eval);
    if (train.isEmpty()) throw new DataException("no DPO pairs to train on");
  }

  /**
   * Reads and tokenizes data.prompts (and its held-out split, see {@link RowSplit}).
   *
   * @throws DataException naming the file and line of a pair without a side, or an empty one
   */
  public static DpoData load(DataSection data, int maxLength, long seed, Tokenizer tokenizer) throws IOException {
    return load(data, maxLength, seed, tokenizer, null);
  }

  /**
   * As {@link #load(DataSection, int, long, Tokenizer)}, where a pair may also be TRL's
   * conversational one ({@code {"prompt": [messages], "chosen": [messages], "rejected":
   * [messages]}}, or with an implicit prompt: {@code {"chosen": [messages], "rejected":
   * [messages]}}, the messages both sides begin with): the prompt rendered with the generation
   * prompt, each side the rest of the
   * prompt + side conversation's rendering, all tokenized without an added BOS.
   *
   * @param chat renders conversations, or null when every field must be a string
   */
  public static DpoData load(DataSection data, int maxLength, long seed, Tokenizer tokenizer, ChatPrompts chat)
      throws IOException {
    if (tokenizer.eosId() < 0) throw new DataException("the tokenizer has no EOS token; DPO ends every completion with one");
    RowSplit rows = RowSplit.read(data, seed);
    int[] counts = new int[3];  // dropped, truncated, prompt tokens changed by the completion
    List<DpoPair> train = encode(rows.train(), data.promptField(), maxLength, tokenizer, chat, counts);
    List<DpoPair> eval = encode(rows.eval(), data.promptField(), maxLength, tokenizer, chat, counts);
    if (counts[0] + counts[1] > 0) {
      LOG.info("{}: {} pairs dropped (prompt alone reaches dpo.max_length {}) and {} truncated", data.prompts(),
          counts[0], maxLength, counts[1]);
    }
    if (train.isEmpty()) {
      throw new DataException(data.prompts() + ": no training pairs left: all " + counts[0] + " have a prompt of at "
          + "least dpo.max_length (" + maxLength + ") tokens");
    }
    return new DpoData(train, eval, counts[0], counts[1]);
  }

  /**
   * One line's pair, or null when its prompt alone reaches maxLength; counts[0] counts those,
   * counts[1] the truncated pairs, counts[2] the pairs whose prompt tokens the completion changed.
   */
  public static DpoPair encode(Row row, String promptField, int maxLength, Tokenizer tokenizer,
      ChatPrompts chat, int[] counts) throws IOException {
    boolean rendered = chat != null && ChatPrompts.isConversationalPair(row, promptField, "chosen");
    String prompt;
    String chosen;
    String rejected;
    if (rendered) {
      ChatPrompts.Pair pair = chat.pair(row, promptField, "chosen", "rejected");
      prompt = pair.prompt();
      chosen = pair.chosen();
      rejected = pair.rejected();
    } else {
      prompt = row.text(promptField);
      chosen = row.text("chosen");
      rejected = row.text("rejected");
    }
    ToIntArray encode = rendered ? tokenizer::encode : tokenizer::encodePrompt;
    int[] p = encode.apply(prompt);
    if (p.length >= maxLength) {
      counts[0]++;
      return null;
    }
    int[] fullChosen = encode.apply(prompt + chosen);
    int[] fullRejected = encode.apply(prompt + rejected);
    if (!startsWith(fullChosen, p) || !startsWith(fullRejected, p)) {
      // As TRL: the boundary merged into the prompt's last token; the completion is what follows.
      if (counts[2]++ == 0) {
        LOG.warn("{}: the tokens of prompt + completion do not start with the prompt's (a token spans the boundary;"
            + " does the completion start with its space?)", row.where());
      }
    }
    int[] c = completion(p, fullChosen, tokenizer.eosId());
    int[] r = completion(p, fullRejected, tokenizer.eosId());
    if (c.length == 1 || r.length == 1) {
      throw new DataException(row.where() + ": field '" + (c.length == 1 ? "chosen" : "rejected")
          + "' has no tokens after the prompt's");
    }
    int room = maxLength - p.length;
    if (c.length > room || r.length > room) {
      counts[1]++;
      c = Arrays.copyOf(c, Math.min(c.length, room));
      r = Arrays.copyOf(r, Math.min(r.length, room));
    }
    return new DpoPair(row.line(), p, c, r);
  }

  /** A tokenization: with the tokenizer's BOS for plain text, as it is for a rendered conversation. */
  private interface ToIntArray {
    int[] apply(String text);
  }

  private static boolean startsWith(int[] full, int[] prefix) {
    return full.length >= prefix.length && Arrays.equals(full, 0, prefix.length, prefix, 0, prefix.length);
  }

  /** full minus its first prompt.length tokens, with EOS appended. */
  private static int[] completion(int[] prompt, int[] full, int eos) {
    int n = Math.max(0, full.length - prompt.length);
    int[] out = Arrays.copyOfRange(full, full.length - n, full.length + 1);
    out[n] = eos;
    return out;
  }

  private static List<DpoPair> encode(List<Row> rows, String promptField, int maxLength, Tokenizer tokenizer,
      ChatPrompts chat, int[] counts) throws IOException {
    List<DpoPair> out = new ArrayList<>(rows.size());
    for (Row row : rows) {
      DpoPair pair = encode(row, promptField, maxLength, tokenizer, chat, counts);
      if (pair != null) out.add(pair);
    }
    return out;
  }
}
