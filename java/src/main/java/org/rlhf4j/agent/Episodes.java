package org.rlhf4j.agent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.Seeds;

/**
 * The episode loop: multi-turn generation with an environment answering each assistant turn,
 * turn-synchronous over a batch. Each round, one batched generate call continues every live
 * episode's whole token context (prompt and every token since, never re-tokenized), each row
 * within its remaining budget; then the environments of the episodes whose turn ended step at
 * once on virtual threads, and each observation is appended as the chat template's token delta
 * (see {@link Transcript}), with action mask 0.
 *
 * <p>The budget (GenerateOptions.maxNewTokens) is the episode's whole response, observation
 * tokens included (as verl counts). An episode ends when its environment says done, after
 * agent.max_turns turns, or truncated: a turn that reaches the budget before its end of turn (it
 * is recorded, but the environment does not see it), or an observation that would leave no room
 * for another token. Row i's turn t samples from
 * seed mix(seeds[i], t), so an episode is the same in any batch (a turn the context window splits
 * into two calls continues from mix(seeds[i], t, piece)). Not thread-safe.
 */
public final class Episodes {
  private final TurnSampler sampler;
  private final Tokenizer tokenizer;
  private final AgentRuntime runtime;
  private final Transcript transcript;

  /**
   * @param kwargs the chat template's kwargs (enable_thinking, ...)
   */
  public Episodes(TurnSampler sampler, Tokenizer tokenizer, ChatTemplate template, AgentRuntime runtime,
      Map<String, Object> kwargs) {
    this.sampler = sampler;
    this.tokenizer = tokenizer;
    this.runtime = runtime;
    this.transcript = new Transcript(template, runtime.toolSpecs(), kwargs);
  }

  /** Episodes sampled from policy, no template kwargs. */
  public static Episodes of(Model policy, Tokenizer tokenizer, ChatTemplate template, AgentRuntime runtime) {
    return new Episodes(TurnSampler.of(policy), tokenizer, template, runtime, Map.of());
  }

  /**
   * One episode per row, in order.
   *
   * @param rows what each episode's environment resets from (see {@link Environment#row})
   * @param options sampling (temperature 0 is greedy), EOS/stop (the end of a turn), values; its
   *     maxNewTokens is each episode's whole response budget
   * @param seeds each row's seed
   * @throws IllegalStateException when an environment fails or the template cannot append
   */
  public List<Episode> run(List<Map<String, Object>> rows, GenerateOptions options, long[] seeds) {
    if (seeds.length != rows.size()) {
      throw new IllegalArgumentException("episodes: " + seeds.length + " seeds for " + rows.size() + " rows");
    }
    List<LiveEpisode> all = new ArrayList<>(rows.size());
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      try {
        for (int i = 0; i < rows.size(); i++) all.add(open(i, rows.get(i), options));
        List<LiveEpisode> live = new ArrayList<>(all);
        while (!live.isEmpty()) {
          List<LiveEpisode> stepping = generate(live, options, seeds);
          step(stepping, threads);
          live.removeIf(e -> e.finished);
        }
      } finally {
        for (LiveEpisode e : all) e.env.close();
      }
    }
    return all.stream().map(LiveEpisode::episode).toList();
  }

  private LiveEpisode open(int index, Map<String, Object> row, GenerateOptions options) {
    Environment env = runtime.newEpisode();
    try {
      List<Message> opening = env.reset(row);
      int[] prompt = tokenizer.encode(transcript.opening(opening));
      if (prompt.length + (long) options.maxNewTokens() > sampler.contextWindow()) {
        throw new IllegalArgumentException("episode " + index + ": its prompt rendered with the tools is "
            + prompt.length + " tokens; with generation.max_new_tokens (" + options.maxNewTokens()
            + ") that exceeds the policy's context window (" + sampler.contextWindow() + " tokens)");
      }
      return new LiveEpisode(index, env, prompt, opening, options.maxNewTokens(), options.withValues());
    } catch (RuntimeException e) {
      env.close();
      throw e;
    }
  }

  /** One batched call over the live episodes; returns those whose turn ended (their environments step). */
  private List<LiveEpisode> generate(List<LiveEpisode> live, GenerateOptions options, long[] seeds) {
    List<int[]> contexts = new ArrayList<>(live.size());
    long[] rowSeeds = new long[live.size()];
    int longest = 0, most = 0;
    for (int i = 0; i < live.size(); i++) {
      LiveEpisode e = live.get(i);
      contexts.add(e.context());
      longest = Math.max(longest, e.prompt.length + e.size());
      most = Math.max(most, e.remaining());
      long seed = seeds[e.index];
      rowSeeds[i] = e.piece == 0 ? Seeds.mix(seed, e.turn) : Seeds.mix(seed, e.turn, e.piece);
    }
    // Padded to the longest context, the call must fit the window: a row capped here continues its turn next round.
    int cap = Math.min(most, sampler.contextWindow() - longest);
    List<TurnSampler.Piece> pieces = sampler.sample(contexts, options, cap, rowSeeds);
    List<LiveEpisode> ended = new ArrayList<>();
    for (int i = 0; i < live.size(); i++) {
      LiveEpisode e = live.get(i);
      TurnSampler.Piece p = pieces.get(i);
      int keep = Math.min(p.tokens().length, e.remaining());
      e.appendSampled(p, keep);
      if (p.stopped() && keep == p.tokens().length && keep > 0) {
        ended.add(e);
      } else if (e.remaining() == 0) {
        String text = e.turnText(tokenizer, false);
        e.cutTurn(text, runtime.parser().parse(text).calls());
      } else {
        e.piece++;
      }
    }
    return ended;
  }

  /** The environments of the episodes whose turn ended, concurrently; then each episode's observation. */
  private void step(List<LiveEpisode> stepping, ExecutorService threads) {
    List<Message> assistants = new ArrayList<>();
    List<Future<Environment.Step>> steps = new ArrayList<>();
    for (LiveEpisode e : stepping) {
      Message m = Message.assistant(e.turnText(tokenizer, true), List.of());
      assistants.add(m);
      steps.add(threads.submit(() -> e.env.step(m)));
    }
    for (int i = 0; i < stepping.size(); i++) {
      LiveEpisode e = stepping.get(i);
      Environment.Step s;
      try {
        s = steps.get(i).get();
      } catch (ExecutionException ex) {
        Throwable c = ex.getCause();
        throw new IllegalStateException("episode " + e.index + ": the environment's step failed: "
            + c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage()), c);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("episodes: interrupted while environments stepped", ex);
      }
      Message assistant = assistants.get(i);
      e.endTurn(assistant, runtime.parser().parse(assistant.content()).calls(), s);
      if (s.done() || e.turn >= runtime.maxTurns()) {
        e.finish(false);
        continue;
      }
      String eot = tokenizer.decode(new int[] {e.lastToken()}, false);
      String text = transcript.observation(e.messagesBeforeTurn(), s.observations(), eot);
      int[] tokens = tokenizer.encode(text);
      // An observation that leaves no room for a token of the next turn ends the episode (not appended).
      if (tokens.length >= e.remaining()) {
        e.finish(true);
      } else {
        e.appendObservation(tokens, s.observations());
      }
    }
  }
}
