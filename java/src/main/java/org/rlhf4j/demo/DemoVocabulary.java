package org.rlhf4j.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import org.rlhf4j.demo.task.ReviewTask;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The demo's word tokenizer over the task's vocabulary and its chat template's markers, and the
 * task's normal form of text:
 * tokens joined by single spaces, punctuation included ("great , and kind .").
 */
final class DemoVocabulary {
  private DemoVocabulary() {}

  /** The task's words, then the chat template's markers. */
  static WordTokenizer tokenizer(ReviewTask task) {
    List<String> words = new ArrayList<>(task.vocabulary().stream()
        .filter(w -> !WordTokenizer.PUNCTUATION.contains(w)).toList());
    words.addAll(DemoChatTemplate.WORDS);
    return WordTokenizer.of(words);
  }

  /** The task's normal form of ids (special tokens dropped): what its judges read. */
  static String words(WordTokenizer tokenizer, int[] ids) {
    List<String> vocab = tokenizer.vocabulary();
    StringJoiner out = new StringJoiner(" ");
    for (int id : ids) {
      if (id == tokenizer.padId() || id == tokenizer.bosId() || id == tokenizer.eosId()) continue;
      out.add(vocab.get(id));
    }
    return out.toString();
  }
}
