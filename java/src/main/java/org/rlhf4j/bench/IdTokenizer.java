package org.rlhf4j.bench;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.rlhf4j.tokenizer.Tokenizer;

/** Token ids as their own text; no special tokens, so nothing ends a response early. */
record IdTokenizer(int vocabSize) implements Tokenizer {
  @Override
  public int[] encode(String text) {
    return text.isBlank() ? new int[0] : Arrays.stream(text.trim().split(" ")).mapToInt(Integer::parseInt)
        .toArray();
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" "));
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
    return -1;
  }
}
