package org.rlhf4j.rm;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.Row;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.ExampleEncoder;
import org.rlhf4j.train.LengthCounts;
import org.rlhf4j.train.RowSplit;
import org.rlhf4j.train.SupervisedData;

/**
 * Reward-model training pairs, tokenized: the training ones and the held-out ones. A data line
 * is a JSONL object in one of TRL's two preference forms: explicit prompt {@code {"prompt":
 * ..., "chosen": ..., "rejected": ...}} (chosen and rejected are completions of the prompt;
 * the prompt field is data.prompt_field) or implicit prompt {@code {"chosen": ...,
 * "rejected": ...}} (each a full text). Each side is tokenized as an SFT example ({@link
 * ExampleEncoder}: BOS when the tokenizer wants it, EOS appended, the length limits); a pair
 * with a side over a limit is skipped or truncated as a whole. Immutable.
 *
 * @param skippedTooLong pairs left out (training and held-out) for a limit, per data.too_long
 * @param truncated pairs with a side cut to a limit
 */
public record PreferenceData(List<PreferencePair> train, List<PreferencePair> eval, int skippedTooLong,
    int truncated) implements SupervisedData<PreferencePair> {
  public static final String CHOSEN = "chosen";
  public static final String REJECTED = "rejected";

  public PreferenceData {
    train = List.copyOf(train);
    eval = List.copyOf(eval);
    if (train.isEmpty()) throw new DataException("no preference pairs to train on");
  }

  /**
   * Reads and tokenizes data.prompts (see {@link RowSplit} for the held-out split).
   *
   * @param maxSeqLen rm.max_seq_len
   * @param seed run.seed
   * @throws DataException for a bad file or line ({@code file:line: reason}) or when no training
   *     pair is left
   */
  public static PreferenceData load(DataSection data, int maxSeqLen, long seed, Tokenizer tokenizer)
      throws IOException {
    return load(data, maxSeqLen, seed, tokenizer, null);
  }

  /**
   * As {@link #load(DataSection, int, long, Tokenizer)}, where a pair may also be conversational
   * ({@code {"prompt": [messages], "chosen": [messages], "rejected": [messages]}}, or with an
   * implicit prompt: the messages both sides begin with): each side is
   * the prompt conversation and its continuation as chat renders them, tokenized without an added
   * BOS, EOS appended (rm.max_seq_len applies; data.max_prompt_tokens does not).
   *
   * @param chat renders conversations, or null when every field must be a string
   */
  public static PreferenceData load(DataSection data, int maxSeqLen, long seed, Tokenizer tokenizer,
      ChatPrompts chat) throws IOException {
    RowSplit rows = RowSplit.read(data, seed);
    ExampleEncoder encoder = new ExampleEncoder(tokenizer, data, maxSeqLen);
    LengthCounts counts = new LengthCounts();
    List<PreferencePair> train = encode(rows.train(), data.promptField(), encoder, chat, counts);
    List<PreferencePair> eval = encode(rows.eval(), data.promptField(), encoder, chat, counts);
    counts.report(data, maxSeqLen, "rm.max_seq_len", "pairs", train.isEmpty());
    return new PreferenceData(train, eval, counts.skipped, counts.truncated);
  }

  private static List<PreferencePair> encode(List<Row> rows, String promptField, ExampleEncoder encoder,
      ChatPrompts chat, LengthCounts counts) throws IOException {
    List<PreferencePair> out = new ArrayList<>(rows.size());
    for (Row row : rows) {
      if (!row.has(CHOSEN) && !row.has(REJECTED)) {
        throw new DataException(row.where() + ": expected fields '" + CHOSEN + "' and '" + REJECTED
            + "' (and '" + promptField + "' unless they are full texts)");
      }
      ExampleEncoder.Encoded chosen;
      ExampleEncoder.Encoded rejected;
      if (chat != null && ChatPrompts.isConversationalPair(row, promptField, CHOSEN)) {
        ChatPrompts.Pair p = chat.pair(row, promptField, CHOSEN, REJECTED);
        chosen = encoder.encode(row.where(), null, p.prompt() + p.chosen(), true);
        rejected = encoder.encode(row.where(), null, p.prompt() + p.rejected(), true);
      } else {
        String prompt = row.has(promptField) ? row.text(promptField) : null;
        chosen = encoder.encode(row.where(), prompt, row.text(CHOSEN));
        rejected = encoder.encode(row.where(), prompt, row.text(REJECTED));
      }
      if (chosen == null || rejected == null) {
        counts.skipped++;
        continue;
      }
      if (chosen.truncated() || rejected.truncated()) counts.truncated++;
      out.add(new PreferencePair(chosen.example().tokens(), rejected.example().tokens()));
    }
    return out;
  }
}
