package org.rlhf4j.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.PromptFile;
import org.rlhf4j.data.PromptPool;
import org.rlhf4j.data.Row;

/**
 * The rows of a supervised data file, split into training and held-out rows: data.eval_prompts
 * when given, else data.eval_fraction of data.prompts held out with run.seed, drawn as PPO's
 * prompt pool draws it (so the same file and seed hold out the same lines). Immutable.
 */
public record RowSplit(List<Row> train, List<Row> eval) {
  /** The field a plain-text line becomes. */
  public static final String TEXT = "text";

  public RowSplit {
    train = List.copyOf(train);
    eval = List.copyOf(eval);
  }

  /**
   * Reads data.prompts (and data.eval_prompts).
   *
   * @throws DataException when data.prompts is unset, a file is missing or has a bad line, or the
   *     split leaves nothing to train on
   */
  public static RowSplit read(DataSection data, long seed) throws IOException {
    if (data.prompts() == null) throw new DataException("data.prompts is not set");
    List<Row> rows = PromptFile.readRows(data.prompts(), data.format(), TEXT);
    if (data.evalPrompts() != null) {
      return new RowSplit(rows, PromptFile.readRows(data.evalPrompts(), data.format(), TEXT));
    }
    if (data.evalFraction() == 0) return new RowSplit(rows, List.of());
    boolean[] held = PromptPool.heldOut(rows.size(), data.evalFraction(), seed, data.prompts());
    List<Row> train = new ArrayList<>();
    List<Row> eval = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) (held[i] ? eval : train).add(rows.get(i));
    return new RowSplit(train, eval);
  }
}
