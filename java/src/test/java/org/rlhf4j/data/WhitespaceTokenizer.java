package org.rlhf4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.rlhf4j.tokenizer.Tokenizer;

/** Test tokenizer: one id per whitespace-separated word, numbered as words first appear. */
final class WhitespaceTokenizer implements Tokenizer {
  private final Map<String, Integer> ids = new HashMap<>();
  private final List<String> words = new ArrayList<>();

  @Override
  public synchronized int[] encode(String text) {
    return text.isBlank() ? new int[0] : Arrays.stream(text.strip().split("\\s+"))
        .mapToInt(w -> ids.computeIfAbsent(w, k -> {
          words.add(k);
          return words.size() - 1;
        }))
        .toArray();
  }

  @Override
  public synchronized String decode(int[] tokens, boolean skipSpecialTokens) {
    return IntStream.of(tokens).mapToObj(words::get).collect(Collectors.joining(" "));
  }

  @Override
  public int vocabSize() {
    return words.size();
  }

  @Override
  public int bosId() {
    return -1;
  }

  @Override
  public int eosId() {
    return -1;
  }

  @Override
  public int padId() {
    return 0;
  }
}
