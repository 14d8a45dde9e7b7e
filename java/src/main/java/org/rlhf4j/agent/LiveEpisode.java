package org.rlhf4j.agent;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhf4j.tokenizer.Tokenizer;

/** An episode while {@link Episodes} runs it: growing per-token arrays and the conversation. */
final class LiveEpisode {
  final int index;
  final Environment env;
  final int[] prompt;
  private final int budget;
  private final boolean withValues;
  private final List<Message> messages;
  private final List<Episode.Turn> turns = new ArrayList<>();
  private int[] tokens = new int[16];
  private float[] mask = new float[16], logprobs = new float[16], values = new float[16], rewards = new float[16];
  private int[] turnOf = new int[16];
  private int size;
  /** Where the current turn's tokens start, and the message count before it. */
  private int turnStart, messagesBeforeTurn;
  int turn;
  /** The generate calls the current turn has taken so far (more than one only when the context window capped one). */
  int piece;
  boolean finished;
  private boolean truncated;

  LiveEpisode(int index, Environment env, int[] prompt, List<Message> opening, int budget, boolean withValues) {
    this.index = index;
    this.env = env;
    this.prompt = prompt;
    this.budget = budget;
    this.withValues = withValues;
    this.messages = new ArrayList<>(opening);
    this.messagesBeforeTurn = messages.size();
  }

  int remaining() {
    return budget - size;
  }

  int size() {
    return size;
  }

  int lastToken() {
    return tokens[size - 1];
  }

  /** The prompt and every token since. */
  int[] context() {
    int[] out = Arrays.copyOf(prompt, prompt.length + size);
    System.arraycopy(tokens, 0, out, prompt.length, size);
    return out;
  }

  void appendSampled(TurnSampler.Piece p, int keep) {
    for (int k = 0; k < keep; k++) {
      append(p.tokens()[k], 1f, p.logprobs()[k], p.values() == null ? 0f : p.values()[k]);
    }
  }

  void appendObservation(int[] observation, List<Message> said) {
    for (int t : observation) append(t, 0f, 0f, 0f);
    Arrays.fill(turnOf, size - observation.length, size, turn - 1); // the turn it answers
    messages.addAll(said);
    messagesBeforeTurn = messages.size();
    turnStart = size;
  }

  private void append(int token, float action, float logprob, float value) {
    if (size == tokens.length) {
      int n = size * 2;
      tokens = Arrays.copyOf(tokens, n);
      mask = Arrays.copyOf(mask, n);
      logprobs = Arrays.copyOf(logprobs, n);
      values = Arrays.copyOf(values, n);
      rewards = Arrays.copyOf(rewards, n);
      turnOf = Arrays.copyOf(turnOf, n);
    }
    tokens[size] = token;
    mask[size] = action;
    logprobs[size] = logprob;
    values[size] = value;
    turnOf[size] = turn;
    size++;
  }

  /** The current turn's text, special tokens skipped; with ended, its end-of-turn token left out. */
  String turnText(Tokenizer tokenizer, boolean ended) {
    return tokenizer.decode(Arrays.copyOfRange(tokens, turnStart, ended ? size - 1 : size), true);
  }

  List<Message> messagesBeforeTurn() {
    return List.copyOf(messages.subList(0, messagesBeforeTurn));
  }

  /** Records the ended turn: the assistant's message, its reward on the turn's last token. */
  void endTurn(Message assistant, List<ToolCall> calls, Environment.Step step) {
    messages.add(assistant);
    rewards[size - 1] += (float) step.reward();
    turns.add(new Episode.Turn(assistant.content(), calls, step.observations(), step.reward()));
    turn++;
    piece = 0;
  }

  /** Ends the episode on a turn the budget cut: recorded without an environment step (no reward, no answer). */
  void cutTurn(String text, List<ToolCall> calls) {
    turns.add(new Episode.Turn(text, calls, List.of(), 0));
    finish(true);
  }

  void finish(boolean byBudget) {
    finished = true;
    truncated = byBudget;
  }

  Episode episode() {
    return new Episode(prompt.clone(), Arrays.copyOf(tokens, size), Arrays.copyOf(mask, size),
        Arrays.copyOf(logprobs, size), withValues ? Arrays.copyOf(values, size) : null, Arrays.copyOf(rewards, size),
        Arrays.copyOf(turnOf, size), messages, turns, truncated);
  }
}
