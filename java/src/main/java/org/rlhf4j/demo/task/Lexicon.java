package org.rlhf4j.demo.task;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The descriptive words of the review grammar, by part of speech, topic and polarity. Every
 * word has one polarity wherever it occurs, so the hidden judge can score any text word by word.
 * Immutable; thread-safe.
 */
final class Lexicon {
  enum Polarity {
    POSITIVE,
    NEGATIVE,
    NEUTRAL;

    /** Positive and negative are opposite; neutral is opposite to nothing. */
    boolean opposite(Polarity other) {
      return this != NEUTRAL && other != NEUTRAL && this != other;
    }
  }

  /** What a review talks about; it decides which adjectives fit (a waiter is not "crispy"). */
  enum Topic {
    FOOD,
    SERVICE,
    PLACE,
    PRICE
  }

  /** One part of speech's words, split by polarity. */
  record Words(List<String> positive, List<String> negative, List<String> neutral) {
    Words {
      positive = List.copyOf(positive);
      negative = List.copyOf(negative);
      neutral = List.copyOf(neutral);
    }

    List<String> of(Polarity p) {
      return switch (p) {
        case POSITIVE -> positive;
        case NEGATIVE -> negative;
        case NEUTRAL -> neutral;
      };
    }
  }

  /** Adjectives that fit every topic. */
  static final Words GENERIC_ADJECTIVES = new Words(
      List.of("great", "good", "excellent", "amazing", "wonderful", "fantastic", "perfect", "superb", "outstanding"),
      List.of("bad", "terrible", "awful", "horrible", "poor", "disappointing", "mediocre", "dreadful", "lousy"),
      List.of());

  /** Adjectives that fit one topic only. */
  static final Map<Topic, Words> TOPIC_ADJECTIVES = topicAdjectives();

  /** Past participles of how a person felt: "i was impressed". */
  static final Words FEELINGS = new Words(
      List.of("impressed", "delighted", "thrilled", "pleased"),
      List.of("disappointed", "annoyed", "disgusted", "upset"),
      List.of("surprised"));

  /** Manner adverbs after "cooked", "served", "prepared". */
  static final Words MANNER_ADVERBS = new Words(
      List.of("perfectly", "beautifully", "nicely", "wonderfully"),
      List.of("badly", "poorly", "terribly", "carelessly"),
      List.of());

  /** Past-tense verbs with a person as subject: "we loved it". */
  static final Words VERBS = new Words(
      List.of("loved", "enjoyed", "liked", "adored"),
      List.of("hated", "disliked", "regretted"),
      List.of("tried", "shared", "finished"));

  /** Verbs after "would": "i would recommend it". */
  static final Words RECOMMENDATIONS = new Words(List.of("recommend"), List.of("avoid"), List.of());

  private static final Map<String, Polarity> POLARITY = polarityIndex();

  private Lexicon() {}

  /** The polarity of a descriptive word, or null for every other word (nouns, function words). */
  static Polarity polarity(String word) {
    return POLARITY.get(word);
  }

  /** Descriptive words may not repeat in a sentence: "great and great" is not English here. */
  static boolean descriptive(String word) {
    return POLARITY.containsKey(word);
  }

  private static Map<Topic, Words> topicAdjectives() {
    var m = new EnumMap<Topic, Words>(Topic.class);
    m.put(Topic.FOOD, new Words(
        List.of("delicious", "tasty", "fresh", "flavorful", "crispy", "tender"),
        List.of("bland", "stale", "soggy", "greasy", "undercooked", "cold"),
        List.of("warm", "spicy", "sweet", "simple", "huge")));
    m.put(Topic.SERVICE, new Words(
        List.of("friendly", "attentive", "helpful", "polite", "quick"),
        List.of("rude", "slow", "careless", "unfriendly", "dismissive"),
        List.of("busy", "young", "quiet")));
    m.put(Topic.PLACE, new Words(
        List.of("cozy", "clean", "charming", "spotless"),
        List.of("dirty", "noisy", "cramped", "gloomy"),
        List.of("small", "quiet", "busy", "dark")));
    m.put(Topic.PRICE, new Words(
        List.of("reasonable", "fair", "affordable"),
        List.of("overpriced", "outrageous", "steep"),
        List.of("typical", "standard")));
    return m;
  }

  private static Map<String, Polarity> polarityIndex() {
    var all = new ArrayList<Words>(List.of(GENERIC_ADJECTIVES, FEELINGS, MANNER_ADVERBS, VERBS,
        RECOMMENDATIONS));
    all.addAll(TOPIC_ADJECTIVES.values());
    var index = new HashMap<String, Polarity>();
    for (Words w : all) {
      for (Polarity p : Polarity.values()) {
        for (String word : w.of(p)) {
          Polarity before = index.putIfAbsent(word, p);
          // A word that is positive in one place and negative in another would make the judge ambiguous.
          if (before != null && before != p) {
            throw new IllegalStateException("lexicon word '" + word + "' is both " + before + " and " + p);
          }
        }
      }
    }
    return Map.copyOf(index);
  }
}
