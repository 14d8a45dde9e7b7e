package org.rlhf4j.config;

import java.nio.file.Path;

/** Section {@code data}: the prompt files and how prompts are read and cut. */
public record DataSection(
    @Doc("Prompt file: JSONL or text, one prompt a line, or Parquet, a file or a directory of shards "
        + "(required).") @Nullable Path prompts,
    @Doc("File format: auto (by extension, else by content), jsonl, text or parquet.") Format format,
    @Doc("JSONL field (Parquet column) holding the prompt; the other fields go to reward functions.") String promptField,
    @Doc("Held-out prompt file (null = split eval_fraction off the prompts).") @Nullable Path evalPrompts,
    @Doc("Fraction of the prompts held out for evaluation when there is no eval_prompts file.")
        double evalFraction,
    @Doc("Longest prompt in tokens; longer ones are skipped or truncated (too_long).") int maxPromptTokens,
    @Doc("A prompt over max_prompt_tokens: skip it, or truncate it to its last tokens.") TooLong tooLong,
    @Doc("Shuffle the prompts every epoch (seeded by run.seed and the epoch).") boolean shuffle) {

  /** How a prompt file is read. */
  public enum Format {
    /**
     * A directory or .parquet is Parquet, .jsonl, .ndjson and .json are JSONL, .txt is text;
     * otherwise JSONL if it starts with '{'.
     */
    AUTO,
    JSONL,
    TEXT,
    /** A Parquet file, or a directory whose *.parquet files are the shards, in name order. */
    PARQUET
  }

  /** What happens to a prompt longer than max_prompt_tokens. */
  public enum TooLong {
    /** Leave it out (counted and reported). */
    SKIP,
    /** Keep its last max_prompt_tokens tokens: the end of a prompt is what the response follows. */
    TRUNCATE
  }

  public DataSection {
    Check.notNull("format", format);
    Check.notNull("prompt_field", promptField);
    Check.notBlank("prompt_field", promptField);
    Check.halfOpen("eval_fraction", evalFraction, 0, 1);
    Check.atLeast("max_prompt_tokens", maxPromptTokens, 1);
    Check.notNull("too_long", tooLong);
  }

  /** Auto-detected file, field "prompt", 5 % held out, 64 tokens at most, skip longer, shuffle. */
  public static DataSection defaults() {
    return new DataSection(null, Format.AUTO, "prompt", null, 0.05, 64, TooLong.SKIP, true);
  }
}
