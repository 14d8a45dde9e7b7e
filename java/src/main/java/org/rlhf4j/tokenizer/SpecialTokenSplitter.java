package org.rlhf4j.tokenizer;

import java.util.Comparator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Cuts the literal text of special tokens out of input before ordinary tokenization, as Hugging
 * Face tokenizers do with added tokens: "a&lt;eos&gt;b" is "a", the id of &lt;eos&gt;, "b".
 * Immutable and thread-safe.
 */
final class SpecialTokenSplitter {
  private final Map<String, Integer> ids;
  /** Longest token first, so that a token that is a prefix of another never wins; null if none. */
  private final Pattern pattern;

  SpecialTokenSplitter(Map<String, Integer> ids) {
    this.ids = Map.copyOf(ids);
    this.pattern = ids.isEmpty() ? null : Pattern.compile(ids.keySet().stream()
        .sorted(Comparator.comparingInt(String::length).reversed().thenComparing(s -> s))
        .map(Pattern::quote)
        .collect(Collectors.joining("|")));
  }

  /** Feeds the plain runs of text (never empty) and special token ids, in order. */
  void split(String text, Consumer<String> plain, IntConsumer special) {
    if (pattern == null) {
      if (!text.isEmpty()) plain.accept(text);
      return;
    }
    Matcher m = pattern.matcher(text);
    int start = 0;
    while (m.find()) {
      if (m.start() > start) plain.accept(text.substring(start, m.start()));
      special.accept(ids.get(m.group()));
      start = m.end();
    }
    if (start < text.length()) plain.accept(text.substring(start));
  }
}
