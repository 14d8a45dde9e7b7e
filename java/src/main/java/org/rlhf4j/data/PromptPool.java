package org.rlhf4j.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training prompts, drawn in epochs, and the held-out prompts for evaluation.
 *
 * <p>Order: epoch e visits every training prompt once, in a shuffle seeded by {@code seed + e}
 * (file order when shuffling is off); {@link #next} continues across epoch boundaries. The
 * sequence depends only on the prompts, their tokens, the seed and the shuffle setting, and
 * {@link #cursor()} / {@link #restore} resume it exactly.
 *
 * <p>Not thread-safe: one trainer thread draws from it.
 */
public final class PromptPool {
  private static final Logger LOG = LoggerFactory.getLogger(PromptPool.class);
  /** Mixed into the seed of the eval split so that it is not epoch 0's shuffle. */
  private static final long SPLIT_SALT = 0x5EED_5B11_7E4A_1L;

  private final List<Prompt> train;
  private final List<Prompt> eval;
  private final long seed;
  private final boolean shuffle;
  private final int skippedTooLong;
  private final int truncated;
  private final long fingerprint;
  private long epoch;
  private int position;
  private int[] order;

  private PromptPool(List<Prompt> train, List<Prompt> eval, long seed, boolean shuffle, int skippedTooLong,
      int truncated) {
    if (train.isEmpty()) throw new DataException("no training prompts");
    this.train = List.copyOf(train);
    this.eval = List.copyOf(eval);
    this.seed = seed;
    this.shuffle = shuffle;
    this.skippedTooLong = skippedTooLong;
    this.truncated = truncated;
    this.fingerprint = fingerprint(this.train, seed, shuffle);
    this.order = order(0);
  }

  /** A pool over prompts already in memory (e.g. a built-in task). */
  public static PromptPool of(List<Prompt> train, List<Prompt> eval, long seed, boolean shuffle) {
    return new PromptPool(train, eval, seed, shuffle, 0, 0);
  }

  /**
   * Reads data.prompts (and data.eval_prompts, or splits data.eval_fraction off data.prompts),
   * tokenizes every prompt, and skips or truncates those longer than data.max_prompt_tokens.
   *
   * <p>The eval split is drawn over the file's prompts before any is skipped, seeded by seed,
   * so a prompt's side does not depend on the tokenizer or the token limit. It holds
   * round(n * eval_fraction) prompts, at least one when eval_fraction > 0.
   *
   * @param seed run.seed: seeds the split and every epoch's shuffle
   * @throws DataException for a bad file or line ({@code file:line: reason}), a prompt with no
   *     tokens, or no training prompt left
   * @throws IOException when a file cannot be read otherwise
   */
  public static PromptPool load(DataSection data, long seed, Tokenizer tokenizer) throws IOException {
    return load(data, seed, tokenizer, null);
  }

  /**
   * As {@link #load(DataSection, long, Tokenizer)}, where a prompt may be a list of messages
   * ({@link ChatPrompts}: rendered with the generation prompt, tokenized without an added BOS, cut
   * like any prompt: its end, with the generation prompt, is kept).
   *
   * @param chat renders conversational prompts, or null when prompts must be strings
   */
  public static PromptPool load(DataSection data, long seed, Tokenizer tokenizer, ChatPrompts chat) throws IOException {
    if (data.prompts() == null) throw new DataException("data.prompts is not set");
    List<PromptFile.Line> lines = PromptFile.read(data.prompts(), data.format(), data.promptField(), chat);
    List<PromptFile.Line> trainLines = lines;
    List<PromptFile.Line> evalLines = List.of();
    if (data.evalPrompts() != null) {
      evalLines = PromptFile.read(data.evalPrompts(), data.format(), data.promptField(), chat);
    } else if (data.evalFraction() > 0) {
      boolean[] held = heldOut(lines.size(), data.evalFraction(), seed, data.prompts());
      trainLines = new ArrayList<>();
      evalLines = new ArrayList<>();
      for (int i = 0; i < lines.size(); i++) (held[i] ? evalLines : trainLines).add(lines.get(i));
    }
    Tokenized t = new Tokenized(tokenizer, data);
    List<Prompt> train = t.all(trainLines, data.prompts());
    List<Prompt> eval = t.all(evalLines, data.evalPrompts() != null ? data.evalPrompts() : data.prompts());
    if (train.isEmpty()) {
      throw new DataException(data.prompts() + ": no training prompts left: all " + t.skipped
          + " are longer than data.max_prompt_tokens (" + data.maxPromptTokens() + ")");
    }
    if (t.skipped + t.truncated > 0) {
      LOG.info("{}: {} prompts skipped and {} truncated for data.max_prompt_tokens ({}), data.too_long {}",
          data.prompts(), t.skipped, t.truncated, data.maxPromptTokens(),
          data.tooLong().name().toLowerCase(Locale.ROOT));
    }
    return new PromptPool(train, eval, seed, data.shuffle(), t.skipped, t.truncated);
  }

  /**
   * The next m training prompts in this epoch's order, continuing into the next epoch (and its
   * new order) when this one ends; m may exceed the pool's size.
   */
  public List<Prompt> next(int m) {
    if (m < 0) throw new IllegalArgumentException("m must be >= 0, got " + m);
    List<Prompt> out = new ArrayList<>(m);
    while (out.size() < m) {
      out.add(train.get(order[position]));
      if (++position == train.size()) {
        epoch++;
        position = 0;
        order = order(epoch);
      }
    }
    return out;
  }

  /** Where the pool stands; {@link #restore} with it gives the same subsequent prompts. */
  public PromptCursor cursor() {
    return new PromptCursor(epoch, position, fingerprint);
  }

  /**
   * Continues from cursor, taken from this pool or one loaded from the same files with the
   * same tokenizer, token limit, seed and shuffle setting.
   *
   * @throws DataException when the cursor belongs to different prompts or settings
   */
  public void restore(PromptCursor cursor) {
    if (cursor.fingerprint() != fingerprint) {
      throw new DataException("cannot resume the prompt order: the prompts, tokenizer, data.max_prompt_tokens, "
          + "run.seed or data.shuffle differ from those of the checkpoint");
    }
    if (cursor.position() >= train.size()) {
      throw new DataException("cannot resume the prompt order: position " + cursor.position() + " is past the "
          + train.size() + " training prompts");
    }
    epoch = cursor.epoch();
    position = cursor.position();
    order = order(epoch);
  }

  /** The held-out prompts in file order (empty when none were held out). */
  public List<Prompt> eval() {
    return eval;
  }

  /** Number of training prompts. */
  public int size() {
    return train.size();
  }

  /** Prompts left out (training and eval together) for being longer than max_prompt_tokens. */
  public int skippedTooLong() {
    return skippedTooLong;
  }

  /** Prompts cut to their last max_prompt_tokens tokens (training and eval together). */
  public int truncated() {
    return truncated;
  }

  /** Epoch e's permutation of the training prompts: Fisher-Yates seeded by seed + e. */
  private int[] order(long e) {
    int[] p = new int[train.size()];
    Arrays.setAll(p, i -> i);
    if (shuffle) permute(p, new Random(seed + e));
    return p;
  }

  /**
   * Which of a file's n lines are held out: the first round(n * fraction) (at least one) of a
   * permutation seeded by seed. Public so that SFT and reward-model training hold out the lines
   * that PPO would of the same file.
   *
   * @throws DataException when that leaves no line for training
   */
  public static boolean[] heldOut(int n, double fraction, long seed, Path file) {
    int k = Math.max(1, (int) Math.round(n * fraction));
    if (k >= n) {
      throw new DataException(file + ": data.eval_fraction " + fraction + " of " + n
          + " prompts leaves none for training; lower it or give data.eval_prompts");
    }
    int[] p = new int[n];
    Arrays.setAll(p, i -> i);
    permute(p, new Random(seed ^ SPLIT_SALT));
    boolean[] held = new boolean[n];
    for (int i = 0; i < k; i++) held[p[i]] = true;
    return held;
  }

  private static void permute(int[] p, Random random) {
    for (int i = p.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
  }

  /** FNV-1a over the seed, the shuffle flag and every training prompt's index and tokens. */
  private static long fingerprint(List<Prompt> train, long seed, boolean shuffle) {
    long h = 0xcbf29ce484222325L;
    h = mix(mix(h, seed), shuffle ? 1 : 0);
    for (Prompt p : train) {
      h = mix(mix(h, p.index()), p.length());
      for (int t : p.tokens()) h = mix(h, t);
    }
    return h;
  }

  private static long mix(long h, long v) {
    return (h ^ v) * 0x100000001b3L;
  }

  /** Tokenizes file lines and applies the token limit, counting what it skips and truncates. */
  private static final class Tokenized {
    private final Tokenizer tokenizer;
    private final DataSection data;
    int skipped;
    int truncated;

    Tokenized(Tokenizer tokenizer, DataSection data) {
      this.tokenizer = tokenizer;
      this.data = data;
    }

    List<Prompt> all(List<PromptFile.Line> lines, Path file) {
      List<Prompt> out = new ArrayList<>(lines.size());
      // BOS (when the tokenizer starts sequences with it) counts towards the limit and survives truncation.
      boolean prepends = tokenizer.prependsBos() && tokenizer.bosId() >= 0;
      for (PromptFile.Line l : lines) {
        boolean bos = prepends && !l.chat();
        int room = data.maxPromptTokens() - (bos ? 1 : 0);
        int[] body = tokenizer.encode(l.text());
        if (body.length == 0) throw new DataException(l.where() + ": the prompt has no tokens");
        String text = l.text();
        if (body.length > room) {
          if (data.tooLong() == DataSection.TooLong.SKIP) {
            skipped++;
            continue;
          }
          truncated++;
          body = Arrays.copyOfRange(body, body.length - room, body.length);
          text = tokenizer.decode(body, false);
        }
        int[] tokens = body;
        if (bos) {
          tokens = new int[body.length + 1];
          tokens[0] = tokenizer.bosId();
          System.arraycopy(body, 0, tokens, 1, body.length);
        }
        out.add(new Prompt(l.line() - 1, text, tokens, l.fields(), l.messages()));
      }
      return out;
    }
  }
}
