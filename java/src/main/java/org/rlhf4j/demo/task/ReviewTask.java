package org.rlhf4j.demo.task;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import org.rlhf4j.demo.task.Grammar.Production;
import org.rlhf4j.demo.task.Sentiment.Tone;

/**
 * The demo's built-in task: one-sentence restaurant reviews from a grammar with a sentiment
 * lexicon (see {@code ReviewGrammar}). A prompt is a review opening with no sentiment in it
 * ("the fries at this place were", "honestly , i"); a response completes it in one or two
 * clauses and ends with "." or "!" ("crispy but the staff was rude ."). Two hidden judges score
 * responses: {@link #goldReward} (sentiment) and {@link #valid} (grammaticality).
 *
 * <p>Texts are in the word tokenizer's normal form: lower case, tokens separated by spaces,
 * punctuation its own token. Openings are split once, by a hash salted with the task seed, into
 * a training part (about 80%: {@link #prompts}, {@link #sftCorpus}, {@link #preferencePairs}
 * draw only from it) and a held-out part ({@link #heldOutPrompts}), so held-out prompts are never
 * seen in training.
 *
 * <p>Every method is a pure function of the task seed and its arguments: no global random state.
 * Immutable; thread-safe.
 */
public final class ReviewTask {
  private static final Grammar GRAMMAR = ReviewGrammar.build();
  private static final Earley RECOGNIZER = new Earley(GRAMMAR);
  private static final List<String> VOCABULARY = GRAMMAR.terminals();

  /** Prompts have 3 to 8 words. */
  public static final int MIN_PROMPT_WORDS = 3;

  public static final int MAX_PROMPT_WORDS = 8;

  /**
   * The longest response the grammar allows, in tokens (16); a generation budget needs one more
   * for an end-of-sequence token.
   */
  public static final int MAX_RESPONSE_WORDS = maxContinuation();

  private static final int HELD_OUT_ONE_IN = 5;
  private static final int MAX_DRAWS = 100_000;

  // Independent random streams per purpose, so equal call seeds do not correlate outputs.
  private static final long SFT = 1;
  private static final long PROMPTS = 2;
  private static final long PAIRS = 3;
  private static final long HELD_OUT = 4;
  private static final long SPLIT = 5;

  private final long seed;

  /** An opening drawn from the grammar, with the nonterminal its continuations come from. */
  private record Opening(List<String> words, Grammar.Nonterminal continuation) {
    String text() {
      return String.join(" ", words);
    }
  }

  public ReviewTask(long seed) {
    this.seed = seed;
  }

  public long seed() {
    return seed;
  }

  /**
   * Every token the grammar can produce (words and the punctuation {@code . , !}), sorted, no
   * duplicates, no special tokens. The same for every seed.
   */
  public List<String> vocabulary() {
    return VOCABULARY;
  }

  /**
   * {@code n} training examples: training openings with grammatical continuations, balanced
   * over tone: 45% positive, 45% negative, 7% mixed ("X but Y"), 3% neutral. Prompts repeat
   * across examples; continuations are drawn afresh for each.
   */
  public List<Example> sftCorpus(int n, long seed) {
    requireCount(n, "sftCorpus");
    var rng = new SplittableRandom(Seeds.derive(this.seed, SFT, seed));
    var out = new ArrayList<Example>(n);
    for (int i = 0; i < n; i++) {
      Opening o = drawOpening(rng, false);
      out.add(new Example(o.text(), String.join(" ", continuation(o, drawTone(rng), rng))));
    }
    return List.copyOf(out);
  }

  /** {@code n} training prompts, drawn with replacement from the training openings. */
  public List<String> prompts(int n, long seed) {
    requireCount(n, "prompts");
    var rng = new SplittableRandom(Seeds.derive(this.seed, PROMPTS, seed));
    var out = new ArrayList<String>(n);
    for (int i = 0; i < n; i++) out.add(drawOpening(rng, false).text());
    return List.copyOf(out);
  }

  /**
   * {@code n} distinct held-out prompts, never produced by {@link #prompts}, {@link #sftCorpus}
   * or {@link #preferencePairs} of this task. Fixed by the task seed; {@code heldOutPrompts(k)}
   * is a prefix of {@code heldOutPrompts(n)} for {@code k <= n}.
   *
   * @throws IllegalArgumentException when there are not that many distinct held-out openings
   */
  public List<String> heldOutPrompts(int n) {
    requireCount(n, "heldOutPrompts");
    var rng = new SplittableRandom(Seeds.derive(seed, HELD_OUT, 0));
    var out = new LinkedHashSet<String>();
    for (int draws = 0; out.size() < n; draws++) {
      if (draws == MAX_DRAWS) {
        throw new IllegalArgumentException("heldOutPrompts: found only " + out.size()
            + " distinct held-out openings in " + MAX_DRAWS + " draws, asked for " + n);
      }
      out.add(drawOpening(rng, true).text());
    }
    return List.copyOf(out);
  }

  /**
   * True when {@code prompt} (in normal form) falls in the held-out part of the openings; defined
   * for any text, whether or not the grammar makes it.
   */
  public boolean heldOut(String prompt) {
    Objects.requireNonNull(prompt, "prompt");
    return Long.remainderUnsigned(Seeds.mix(Seeds.derive(seed, SPLIT, 0), Seeds.hash(prompt)), HELD_OUT_ONE_IN) == 0;
  }

  /**
   * {@code n} preference pairs on training prompts: two continuations of one prompt, drawn like
   * {@link #sftCorpus}'s, redrawn until their gold rewards differ; the higher one is chosen, then
   * each label is swapped with probability {@code labelNoise}.
   */
  public List<PreferencePair> preferencePairs(int n, double labelNoise, long seed) {
    requireCount(n, "preferencePairs");
    if (!(labelNoise >= 0 && labelNoise <= 1)) {
      throw new IllegalArgumentException("preferencePairs: labelNoise must be in [0, 1], got " + labelNoise);
    }
    var rng = new SplittableRandom(Seeds.derive(this.seed, PAIRS, seed));
    var out = new ArrayList<PreferencePair>(n);
    for (int i = 0; i < n; i++) {
      Opening o = drawOpening(rng, false);
      List<String> a;
      List<String> b;
      double scoreA;
      double scoreB;
      do {
        a = continuation(o, drawTone(rng), rng);
        b = continuation(o, drawTone(rng), rng);
        scoreA = Sentiment.of(a).score();
        scoreB = Sentiment.of(b).score();
      } while (scoreA == scoreB);
      boolean flip = rng.nextDouble() < labelNoise;
      String better = String.join(" ", scoreA > scoreB ? a : b);
      String worse = String.join(" ", scoreA > scoreB ? b : a);
      out.add(flip ? new PreferencePair(o.text(), worse, better) : new PreferencePair(o.text(), better, worse));
    }
    return List.copyOf(out);
  }

  /**
   * The hidden sentiment judge: {@code (p - n) / (p + n)} over the response's positive and
   * negative lexicon words, 0 when it has none. So +1 is wholly positive, -1 wholly negative, 0
   * neutral or evenly mixed. It judges any text, grammatical or not ("great great !" is +1; {@link
   * #valid} is the judge that catches it). The prompt is not judged: openings carry no sentiment.
   */
  public double goldReward(String prompt, String response) {
    Objects.requireNonNull(prompt, "prompt");
    return Sentiment.of(words(Objects.requireNonNull(response, "response"))).score();
  }

  /** {@code goldReward(prompt, response) > 0}: more positive than negative words. */
  public boolean positive(String prompt, String response) {
    return goldReward(prompt, response) > 0;
  }

  /**
   * True when the response is not empty and prompt + response is a sentence of the grammar, with
   * no descriptive word used twice. Tokens are split on whitespace, so text must be in normal
   * form: "good." or "Good" are not tokens of the grammar.
   */
  public boolean valid(String prompt, String response) {
    List<String> continuation = words(Objects.requireNonNull(response, "response"));
    if (continuation.isEmpty()) return false;
    var sentence = new ArrayList<>(words(Objects.requireNonNull(prompt, "prompt")));
    sentence.addAll(continuation);
    return noRepeatedDescriptiveWord(sentence) && RECOGNIZER.accepts(sentence);
  }

  private Opening drawOpening(SplittableRandom rng, boolean wantHeldOut) {
    for (int draws = 0; draws < MAX_DRAWS; draws++) {
      Production start = GRAMMAR.choose(GRAMMAR.start(), rng);
      var words = new ArrayList<String>();
      GRAMMAR.sample(start.rhs().get(0), rng, words);
      if (words.size() < MIN_PROMPT_WORDS || words.size() > MAX_PROMPT_WORDS) continue;
      var o = new Opening(List.copyOf(words), (Grammar.Nonterminal) start.rhs().get(1));
      if (heldOut(o.text()) == wantHeldOut) return o;
    }
    throw new IllegalStateException("no opening of " + MIN_PROMPT_WORDS + "-" + MAX_PROMPT_WORDS + " words in "
        + MAX_DRAWS + " draws");
  }

  private static Tone drawTone(SplittableRandom rng) {
    double x = rng.nextDouble();
    if (x < 0.45) return Tone.POSITIVE;
    if (x < 0.90) return Tone.NEGATIVE;
    if (x < 0.97) return Tone.MIXED;
    return Tone.NEUTRAL;
  }

  /** A continuation of {@code o} with the given tone, by rejection (every tone is a few draws away). */
  private static List<String> continuation(Opening o, Tone tone, SplittableRandom rng) {
    for (int draws = 0; draws < MAX_DRAWS; draws++) {
      var words = new ArrayList<String>();
      GRAMMAR.sample(o.continuation(), rng, words);
      if (Sentiment.of(words).tone() == tone && noRepeatedDescriptiveWord(words)) return List.copyOf(words);
    }
    throw new IllegalStateException("no " + tone + " continuation of '" + o.text() + "' in " + MAX_DRAWS + " draws");
  }

  private static boolean noRepeatedDescriptiveWord(List<String> words) {
    var seen = new HashSet<String>();
    for (String w : words) if (Lexicon.descriptive(w) && !seen.add(w)) return false;
    return true;
  }

  private static List<String> words(String text) {
    String t = text.strip();
    return t.isEmpty() ? List.of() : List.of(t.split("\\s+"));
  }

  private static int maxContinuation() {
    int max = 0;
    for (Production p : GRAMMAR.productions(GRAMMAR.start())) {
      max = Math.max(max, GRAMMAR.maxLength(((Grammar.Nonterminal) p.rhs().get(1)).name()));
    }
    return max;
  }

  private static void requireCount(int n, String method) {
    if (n < 0) throw new IllegalArgumentException(method + ": n must be >= 0, got " + n);
  }
}
