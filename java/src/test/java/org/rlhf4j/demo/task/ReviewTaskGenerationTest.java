package org.rlhf4j.demo.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The corpus, prompt and preference generators. */
class ReviewTaskGenerationTest {
  private final ReviewTask task = new ReviewTask(2024);

  private static List<String> words(String text) {
    return List.of(text.split(" "));
  }

  @Test
  void sameSeedsGiveTheSameDataAndOtherSeedsOtherData() {
    var again = new ReviewTask(2024);
    assertEquals(task.sftCorpus(200, 7), again.sftCorpus(200, 7));
    assertEquals(task.prompts(200, 7), again.prompts(200, 7));
    assertEquals(task.preferencePairs(200, 0.1, 7), again.preferencePairs(200, 0.1, 7));
    assertEquals(task.heldOutPrompts(50), again.heldOutPrompts(50));

    assertNotEquals(task.sftCorpus(200, 7), task.sftCorpus(200, 8));
    assertNotEquals(task.prompts(200, 7), task.prompts(200, 8));
    assertNotEquals(task.preferencePairs(200, 0.1, 7), task.preferencePairs(200, 0.1, 8));
    var other = new ReviewTask(2025);
    assertNotEquals(task.sftCorpus(200, 7), other.sftCorpus(200, 7));
    assertNotEquals(task.heldOutPrompts(50), other.heldOutPrompts(50));
  }

  @Test
  void everyExampleIsAValidReviewOfBoundedLengthInTheVocabulary() {
    Set<String> vocabulary = Set.copyOf(task.vocabulary());
    for (Example e : task.sftCorpus(2000, 1)) {
      assertTrue(task.valid(e.prompt(), e.response()), e::text);
      assertTrue(vocabulary.containsAll(words(e.text())), e::text);
      int promptWords = words(e.prompt()).size();
      assertTrue(promptWords >= ReviewTask.MIN_PROMPT_WORDS && promptWords <= ReviewTask.MAX_PROMPT_WORDS, e::text);
      assertTrue(words(e.response()).size() <= ReviewTask.MAX_RESPONSE_WORDS, e::text);
      assertTrue(e.response().endsWith(" .") || e.response().endsWith(" !"), e::text);
      for (String w : words(e.prompt())) assertNull(Lexicon.polarity(w), () -> "sentiment in prompt: " + e.text());
    }
    assertTrue(ReviewTask.MAX_RESPONSE_WORDS <= 16, "max response " + ReviewTask.MAX_RESPONSE_WORDS);
  }

  @Test
  void vocabularyIsSortedLowerCaseWithPunctuationAndCoveredByTheCorpus() {
    List<String> vocabulary = task.vocabulary();
    assertEquals(vocabulary.stream().sorted().distinct().toList(), vocabulary);
    assertTrue(vocabulary.containsAll(List.of(".", ",", "!", "and", "but", "really", "very")));
    assertTrue(vocabulary.size() >= 150 && vocabulary.size() <= 400, "size " + vocabulary.size());
    for (String w : vocabulary) assertEquals(w.toLowerCase(java.util.Locale.ROOT), w);
    var used = new HashSet<String>();
    for (Example e : task.sftCorpus(3000, 3)) used.addAll(words(e.text()));
    assertEquals(new HashSet<>(vocabulary), used, "the generator reaches every word of the grammar");
  }

  @Test
  void sftCorpusIsBalancedWithSomeMixedReviews() {
    List<Example> corpus = task.sftCorpus(2000, 11);
    long positive = corpus.stream().filter(e -> task.positive(e.prompt(), e.response())).count();
    long mixed = corpus.stream().filter(e -> Sentiment.of(words(e.response())).tone() == Sentiment.Tone.MIXED).count();
    long contrast = corpus.stream().filter(e -> e.response().contains("but")).count();
    assertTrue(positive >= 800 && positive <= 1200, "positive " + positive);
    assertTrue(mixed >= 60 && mixed <= 300, "mixed " + mixed);
    assertTrue(contrast >= 100, "with but: " + contrast);
  }

  @Test
  void preferenceLabelsFollowGoldRewardWithoutNoise() {
    for (PreferencePair p : task.preferencePairs(1000, 0, 5)) {
      assertTrue(task.goldReward(p.prompt(), p.chosen()) > task.goldReward(p.prompt(), p.rejected()), p::toString);
      assertTrue(task.valid(p.prompt(), p.chosen()), p::toString);
      assertTrue(task.valid(p.prompt(), p.rejected()), p::toString);
      assertFalse(task.heldOut(p.prompt()), p::toString);
    }
  }

  @Test
  void preferenceLabelsDisagreeWithGoldAtTheNoiseRate() {
    List<PreferencePair> pairs = task.preferencePairs(3000, 0.2, 6);
    long flipped = pairs.stream()
        .filter(p -> task.goldReward(p.prompt(), p.chosen()) < task.goldReward(p.prompt(), p.rejected()))
        .count();
    double rate = flipped / 3000.0;
    assertTrue(rate > 0.17 && rate < 0.23, "flip rate " + rate); // 0.2 +- 4 standard errors
    long allFlipped = task.preferencePairs(200, 1, 6).stream()
        .filter(p -> task.goldReward(p.prompt(), p.chosen()) < task.goldReward(p.prompt(), p.rejected()))
        .count();
    assertEquals(200, allFlipped);
  }

  @Test
  void heldOutPromptsAreDistinctAndNeverUsedInTraining() {
    List<String> heldOut = task.heldOutPrompts(300);
    assertEquals(300, new HashSet<>(heldOut).size());
    assertEquals(heldOut.subList(0, 100), task.heldOutPrompts(100));
    var training = new HashSet<>(task.prompts(5000, 1));
    task.sftCorpus(2000, 1).forEach(e -> training.add(e.prompt()));
    task.preferencePairs(2000, 0, 1).forEach(p -> training.add(p.prompt()));
    var overlap = new ArrayList<>(heldOut);
    overlap.retainAll(training);
    assertEquals(List.of(), overlap);
    assertTrue(heldOut.stream().allMatch(task::heldOut));
    assertTrue(training.stream().noneMatch(task::heldOut));
    // The split is meaningful: a fifth of the openings, not a handful.
    assertTrue(training.size() > 1000, "training openings " + training.size());
  }

  @Test
  void rejectsBadArgumentsWithTheirName() {
    var e = assertThrows(IllegalArgumentException.class, () -> task.preferencePairs(10, 1.5, 0));
    assertTrue(e.getMessage().contains("labelNoise"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> task.sftCorpus(-1, 0));
    assertTrue(e.getMessage().contains("sftCorpus"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> task.heldOutPrompts(1_000_000));
    assertTrue(e.getMessage().contains("heldOutPrompts"), e.getMessage());
  }
}
