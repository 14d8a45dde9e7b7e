package org.rlhf4j.train;

import java.util.Locale;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.data.DataException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the length limits did to a supervised data file (SFT examples, reward-model pairs): how
 * many rows were skipped or truncated. Reported once per file, never silently. Not thread-safe.
 */
public final class LengthCounts {
  private static final Logger LOG = LoggerFactory.getLogger(LengthCounts.class);

  public int skipped;
  public int truncated;

  /**
   * Logs the counts when the limits touched anything, and fails when no training row is left.
   *
   * @param rows what the rows are, e.g. "examples" or "pairs"
   * @param maxSeqLenKey the key of the sequence limit, e.g. "sft.max_seq_len"
   */
  public void report(DataSection data, int maxSeqLen, String maxSeqLenKey, String rows, boolean noTrainingRows) {
    if (skipped + truncated > 0) {
      LOG.info("{}: {} {} skipped and {} truncated for data.max_prompt_tokens ({}) or {} ({}), data.too_long {}",
          data.prompts(), skipped, rows, truncated, data.maxPromptTokens(), maxSeqLenKey, maxSeqLen,
          data.tooLong().name().toLowerCase(Locale.ROOT));
    }
    if (noTrainingRows) {
      throw new DataException(data.prompts() + ": no training " + rows + " left: all " + skipped
          + " are longer than data.max_prompt_tokens (" + data.maxPromptTokens() + ") or " + maxSeqLenKey + " ("
          + maxSeqLen + "); raise them or set data.too_long to truncate");
    }
  }
}
