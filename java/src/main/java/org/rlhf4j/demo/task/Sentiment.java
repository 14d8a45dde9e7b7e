package org.rlhf4j.demo.task;

import java.util.List;

/** How many positive and negative lexicon words a text has; the hidden judge's whole view. */
record Sentiment(int positive, int negative) {
  /** The four kinds of continuation the corpus is balanced over. */
  enum Tone {
    POSITIVE,
    NEGATIVE,
    MIXED,
    NEUTRAL
  }

  static Sentiment of(List<String> words) {
    int pos = 0;
    int neg = 0;
    for (String w : words) {
      Lexicon.Polarity p = Lexicon.polarity(w);
      if (p == Lexicon.Polarity.POSITIVE) pos++;
      if (p == Lexicon.Polarity.NEGATIVE) neg++;
    }
    return new Sentiment(pos, neg);
  }

  /** (positive - negative) / (positive + negative), 0 without sentiment words: in [-1, 1]. */
  double score() {
    int total = positive + negative;
    return total == 0 ? 0 : (double) (positive - negative) / total;
  }

  Tone tone() {
    if (positive > 0 && negative > 0) return Tone.MIXED;
    if (positive > 0) return Tone.POSITIVE;
    if (negative > 0) return Tone.NEGATIVE;
    return Tone.NEUTRAL;
  }
}
