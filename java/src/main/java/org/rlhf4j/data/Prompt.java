package org.rlhf4j.data;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One prompt of a {@link PromptPool}. Immutable and thread-safe.
 *
 * @param index 0-based number of the prompt in its file, which is its line number minus one (for
 *     Parquet its row number, counted across the shards of a directory, minus one)
 * @param text the prompt as the model sees it (after truncation, the decoded kept tokens)
 * @param tokens its token ids (a copy is returned)
 * @param fields the other fields of its JSONL object or Parquet row as Jackson maps JSON (String,
 *     Integer, Long, Double, Boolean, List, Map or null), for Java reward functions; empty for
 *     text files
 * @param messages a conversational prompt's messages as the file has them (text is their rendering),
 *     or null for a plain string; multi-turn episodes start from them
 */
public record Prompt(int index, String text, int[] tokens, Map<String, Object> fields,
    List<Map<String, Object>> messages) {

  /** A plain-string prompt. */
  public Prompt(int index, String text, int[] tokens, Map<String, Object> fields) {
    this(index, text, tokens, fields, null);
  }

  public Prompt {
    Objects.requireNonNull(text, "text");
    tokens = tokens.clone();
    // Map.copyOf would refuse JSON nulls, which are legitimate field values.
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  @Override
  public int[] tokens() {
    return tokens.clone();
  }

  /** Number of tokens. */
  public int length() {
    return tokens.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Prompt p && index == p.index && text.equals(p.text) && Arrays.equals(tokens, p.tokens)
        && fields.equals(p.fields) && Objects.equals(messages, p.messages);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, text, Arrays.hashCode(tokens), fields, messages);
  }

  @Override
  public String toString() {
    return "Prompt[index=" + index + ", text=" + text + ", tokens=" + Arrays.toString(tokens) + ", fields=" + fields
        + (messages == null ? "" : ", messages=" + messages) + "]";
  }
}
