package org.rlhf4j.sft;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.Row;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.ExampleEncoder;
import org.rlhf4j.train.LengthCounts;
import org.rlhf4j.train.RowSplit;
import org.rlhf4j.train.SftExample;
import org.rlhf4j.train.SupervisedData;

/**
 * SFT's examples, tokenized: the training ones and the held-out ones. A data line is TRL's
 * conversational form {@code {"messages": [...]}} (rendered with the chat template, loss on the
 * assistant turns by default: see {@link ConversationEncoder}), or its prompt-completion form
 * {@code {"prompt": ..., "completion": ...}} (the prompt field is data.prompt_field; loss on the
 * completion only), or a text {@code {"text": ...}} or plain-text line (loss on every token).
 * Tokens as {@link ExampleEncoder} makes them. Immutable.
 *
 * @param skippedTooLong examples left out (training and held-out) for a limit, per data.too_long
 * @param truncated examples cut to a limit
 */
public record SftData(List<SftExample> train, List<SftExample> eval, int skippedTooLong, int truncated)
    implements SupervisedData<SftExample> {
  public static final String COMPLETION = "completion";

  public SftData {
    train = List.copyOf(train);
    eval = List.copyOf(eval);
    if (train.isEmpty()) throw new DataException("no SFT training examples");
  }

  /**
   * Reads and tokenizes data.prompts (see {@link RowSplit} for the held-out split).
   *
   * @param maxSeqLen sft.max_seq_len
   * @param seed run.seed
   * @throws DataException for a bad file or line ({@code file:line: reason}) or when no training
   *     example is left
   */
  public static SftData load(DataSection data, int maxSeqLen, long seed, Tokenizer tokenizer) throws IOException {
    return load(data, maxSeqLen, seed, tokenizer, null, true);
  }

  /**
   * As {@link #load(DataSection, int, long, Tokenizer)}, rendering conversations with the chat
   * template of modelDir.
   *
   * @param modelDir the model directory (its chat template), or null when it has none
   * @param assistantOnlyLoss sft.assistant_only_loss
   */
  public static SftData load(DataSection data, int maxSeqLen, long seed, Tokenizer tokenizer, Path modelDir,
      boolean assistantOnlyLoss) throws IOException {
    RowSplit rows = RowSplit.read(data, seed);
    ExampleEncoder encoder = new ExampleEncoder(tokenizer, data, maxSeqLen);
    ConversationEncoder chat = new ConversationEncoder(modelDir, tokenizer, maxSeqLen, data.tooLong(), assistantOnlyLoss);
    LengthCounts counts = new LengthCounts();
    List<SftExample> train = encode(rows.train(), data.promptField(), encoder, chat, counts);
    List<SftExample> eval = encode(rows.eval(), data.promptField(), encoder, chat, counts);
    counts.report(data, maxSeqLen, "sft.max_seq_len", "examples", train.isEmpty());
    return new SftData(train, eval, counts.skipped, counts.truncated);
  }

  private static List<SftExample> encode(List<Row> rows, String promptField, ExampleEncoder encoder,
      ConversationEncoder chat, LengthCounts counts) throws IOException {
    List<SftExample> out = new ArrayList<>(rows.size());
    for (Row row : rows) {
      ExampleEncoder.Encoded e = row.has(ConversationEncoder.MESSAGES) ? chat.encode(row)
          : row.has(COMPLETION)
          ? encoder.encode(row.where(), row.text(promptField), row.string(COMPLETION))
          : encoder.encode(row.where(), null, text(row, promptField));
      if (e == null) {
        counts.skipped++;
        continue;
      }
      if (e.truncated()) counts.truncated++;
      out.add(e.example());
    }
    return out;
  }

  private static String text(Row row, String promptField) {
    if (row.has(RowSplit.TEXT)) return row.text(RowSplit.TEXT);
    if (row.has(promptField)) {
      throw new DataException(row.where() + ": missing field '" + COMPLETION + "' (a prompt needs its completion)");
    }
    throw new DataException(row.where() + ": expected fields '" + ConversationEncoder.MESSAGES + "', or '" + promptField
        + "' and '" + COMPLETION + "', or '" + RowSplit.TEXT + "'");
  }
}
