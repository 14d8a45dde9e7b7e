package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.agent.Environment;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.agent.Episodes;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.EndOfTurn;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Distributed;
import org.rlhf4j.train.Seeds;

/**
 * PPO's sampling phase: the old policy generates generation.num_samples responses per prompt (a
 * group), recording each token's log-prob and the critic's value, and they are scored. With
 * ppo.dynamic_sampling (DAPO), groups whose scores are all equal are dropped and more prompts
 * are drawn until the batch is full (at most ppo.max_resample_batches more rounds); the kept
 * groups of every round are merged into one rollout.
 *
 * <p>Each rank samples its contiguous share of the batch's prompts (a prompt's group stays on one
 * rank); each sample's randomness comes from (run.seed, iteration, round, its index in the
 * global batch), whatever the rank or world size.
 *
 * <p>With an agent (multi-turn tools), each response is an episode ({@link Episodes}): the
 * policy's turns with the environment's observations between them, generation.max_new_tokens its
 * whole budget; the reward scores the episode's text after the prompt.
 */
final class PpoSampling {
  /**
   * One iteration's samples on this rank: the rollout (rows in groups of numSamples), each row's
   * prompt, response and scores; firstRow is the global index of its first row; episodes holds
   * each row's episode with an agent, else null.
   */
  record Batch(Rollout rollout, List<Prompt> prompts, List<String> responses, RewardScores.Scores scores,
      double scoringSeconds, int firstRow, List<Episode> episodes) {
    /** The first n samples: prompt, response and score. */
    List<PpoTrainer.Sample> samples(int n) {
      List<PpoTrainer.Sample> out = new ArrayList<>();
      for (int i = 0; i < Math.min(n, prompts.size()); i++) {
        out.add(new PpoTrainer.Sample(prompts.get(i).text(), responses.get(i), scores.total()[i]));
      }
      return out;
    }
  }

  /**
   * One sampling round on this rank: its share of schedule.rollout_batch prompts, numSamples
   * responses each, scored; with an agent, each row's episode (else episodes is null).
   */
  private record Round(Rollout rollout, List<Prompt> prompts, List<String> responses, RewardScores.Scores scores,
      List<Episode> episodes) {}

  private record Timed(Round round, long scoringNanos) {}

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final int numSamples;
  private final GenerateOptions generation;
  private final Distributed dist = Distributed.current();
  private final Episodes episodes;

  /** @throws IllegalArgumentException when the generation settings do not fit the policy or tokenizer */
  PpoSampling(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    this.numSamples = config.numSamples();
    this.generation = generationOptions(config, parts);
    this.episodes = parts.agent() == null ? null
        : Episodes.of(parts.policy(), parts.tokenizer(), parts.chatTemplate(), parts.agent());
  }

  private static GenerateOptions generationOptions(PpoRunConfig config, PpoParts parts) {
    var g = config.generation();
    long context = parts.policy().config().nPositions();
    if (config.data().maxPromptTokens() + (long) g.maxNewTokens() > context) {
      throw new IllegalArgumentException("data.max_prompt_tokens (" + config.data().maxPromptTokens()
          + ") + generation.max_new_tokens (" + g.maxNewTokens() + ") exceeds the policy's context window ("
          + context + " tokens)");
    }
    var tok = parts.tokenizer();
    int stop = -1;
    if (g.stopToken() != null) {
      int[] ids = tok.encode(g.stopToken());
      if (ids.length != 1) {
        throw new IllegalArgumentException("generation.stop_token '" + g.stopToken() + "' is " + ids.length
            + " tokens for this tokenizer; it must be exactly one");
      }
      stop = ids[0];
    }
    try {
      // Episodes render every prompt through the template, plain-string ones too: their turns end alike.
      var template = parts.agent() != null ? parts.chatTemplate() : parts.prompts().chatTemplate().orElse(null);
      stop = EndOfTurn.stopId(template, tok, stop, "generation.stop_token");
    } catch (ChatTemplateException e) {
      throw new IllegalArgumentException("conversational prompts: " + e.getMessage(), e);
    }
    int pad = tok.paddingId();
    boolean sharedCritic = parts.critic() == null && parts.policy().config().valueHead();
    return new GenerateOptions(g.maxNewTokens(), g.temperature(), g.topK(), g.topP(), tok.eosId(), stop, pad,
        0, sharedCritic, config.ppo().keepDecodingLogprobs());
  }

  /** The run's generation settings. */
  GenerateOptions generation() {
    return generation;
  }

  /**
   * Iteration it's batch, scored, with the critic's values (a separate critic scores it after
   * generation). Dynamic sampling's counts go into metrics.
   */
  Batch sample(long it, Map<String, Double> metrics) {
    Batch batch = draw(it, metrics);
    if (parts.critic() == null) return batch;
    try {
      batch.rollout().scorePolicy(parts.critic(), 1.0, Rollout.VALUES);
      return batch;
    } catch (RuntimeException e) {
      batch.rollout().close();
      throw e;
    }
  }

  /**
   * Sampling and scoring. Without dynamic sampling, one round. With it (DAPO), groups whose
   * scores are all equal are dropped and rounds repeat until schedule.rollout_batch groups are
   * kept or ppo.max_resample_batches extra rounds are spent; a batch still short is topped up
   * with dropped groups (their advantage is 0), so every iteration learns from the same size.
   */
  private Batch draw(long it, Map<String, Double> metrics) {
    final int share = dist.shareEnd(config.schedule().rolloutBatch()) - dist.shareStart(config.schedule().rolloutBatch());
    final int firstRow = dist.shareStart(config.schedule().rolloutBatch()) * numSamples;
    long scoring = 0;
    Timed first = round(it, 0);
    scoring += first.scoringNanos();
    Round only = first.round();
    if (!config.ppo().dynamicSampling()) {
      agentMetrics(List.of(only), metrics);
      return new Batch(only.rollout(), only.prompts(), only.responses(), only.scores(), scoring / 1e9, firstRow,
          only.episodes());
    }
    List<Round> rounds = new ArrayList<>(List.of(only));
    List<int[]> kept = new ArrayList<>(), dropped = new ArrayList<>();  // {round, group}
    try {
      for (int r = 0; ; r++) {
        Round round = rounds.get(r);
        for (int g = 0; g < share; g++) (constantGroup(round.scores().total(), g) ? dropped : kept).add(new int[] {r, g});
        if (dynamicSamplingFull(kept.size() >= share) || r == config.ppo().maxResampleBatches()) break;
        Timed next = round(it, r + 1);
        scoring += next.scoringNanos();
        rounds.add(next.round());
      }
      List<int[]> chosen = new ArrayList<>(kept.subList(0, Math.min(share, kept.size())));
      int filled = share - chosen.size();
      chosen.addAll(dropped.subList(0, filled));
      double[] counts = dist.sum(dropped.size(), filled);
      metrics.put("dynamic/dropped_groups", counts[0] / dist.worldSize());  // sums: metrics are averaged over ranks
      metrics.put("dynamic/filled_groups", counts[1] / dist.worldSize());
      metrics.put("dynamic/sampling_rounds", (double) rounds.size());
      agentMetrics(rounds, metrics);
      return merge(rounds, chosen, scoring / 1e9, firstRow);
    } finally {
      for (Round r : rounds) r.rollout().close();
    }
  }

  /**
   * Dynamic sampling's stopping decision: every rank has kept groups for its whole share. Taken
   * over all ranks, so every rank stops after the same round and their prompt cursors stay equal.
   */
  private boolean dynamicSamplingFull(boolean thisRankFull) {
    return !dist.any(!thisRankFull);
  }

  /**
   * Round r of iteration it: this rank's share of the next rollout_batch prompts, each numSamples
   * times (rows p*n .. p*n+n-1).
   */
  private Timed round(long it, int r) {
    int m = config.schedule().rolloutBatch();
    int lo = dist.shareStart(m);
    List<Prompt> prompts = parts.prompts().next(m).subList(lo, dist.shareEnd(m));
    List<Prompt> rows = new ArrayList<>(prompts.size() * numSamples);
    for (Prompt p : prompts) for (int k = 0; k < numSamples; k++) rows.add(p);
    long[] seeds = new long[rows.size()];
    long seed = config.run().seed();
    for (int i = 0; i < seeds.length; i++) {
      long global = (long) lo * numSamples + i;
      seeds[i] = r == 0 ? Seeds.mix(seed, it, global) : Seeds.mix(seed, it, global, r);
    }
    Responses out = respond(rows, generation, seeds);
    Rollout rollout = out.rollout();
    List<Episode> played = out.episodes();
    try {
      float[] groups = new float[rows.size()];
      for (int i = 0; i < groups.length; i++) groups[i] = lo + i / numSamples;
      rollout.write(RolloutField.GROUP_ID, groups);
      long t0 = System.nanoTime();
      List<String> responses = decode(rollout);
      RewardScores.Scores scores = score(rollout, rows, responses);
      return new Timed(new Round(rollout, rows, responses, scores, played), System.nanoTime() - t0);
    } catch (RuntimeException e) {
      rollout.close();
      throw e;
    }
  }

  /** A rollout of responses to prompts and, with an agent, the episodes it holds (else null). */
  record Responses(Rollout rollout, List<Episode> episodes) {}

  /** One response per row, row i's randomness from seeds[i]: one turn, or with an agent an episode. */
  Responses respond(List<Prompt> rows, GenerateOptions options, long[] seeds) {
    if (episodes == null) return new Responses(parts.policy().generate(tokens(rows), options, seeds), null);
    List<Episode> played = episodes.run(rows.stream().map(PpoSampling::row).toList(), options, seeds);
    Rollout rollout = EpisodeRollout.of(parts.policy(), played, parts.tokenizer().paddingId(),
        config.ppoOptions().temperature(), options.keepDecodingLogprobs());
    return new Responses(rollout, played);
  }

  /**
   * What an episode's environment resets from: the prompt's fields, and as {@code prompt} its
   * messages (a conversational prompt) or its text.
   */
  static Map<String, Object> row(Prompt p) {
    return Environment.row(p.messages() != null ? p.messages() : p.text(), p.fields());
  }

  /** The agent/* metrics of the episodes of rounds (all of them, dropped groups too), with an agent. */
  private void agentMetrics(List<Round> rounds, Map<String, Double> metrics) {
    if (episodes == null) return;
    EpisodeRollout.metrics(EpisodeRollout.concat(rounds.stream().map(Round::episodes).toList()),
        parts.agent().metrics().drain(), dist, metrics);
  }

  private boolean constantGroup(float[] scores, int g) {
    for (int k = 1; k < numSamples; k++) {
      if (Float.compare(scores[g * numSamples + k], scores[g * numSamples]) != 0) return false;
    }
    return true;
  }

  /** The chosen groups ({round, group}) of rounds as one batch, group ids renumbered 0.. in order. */
  private Batch merge(List<Round> rounds, List<int[]> chosen, double scoringSeconds, int firstRow) {
    int rows = chosen.size() * numSamples;
    int[] part = new int[rows], row = new int[rows];
    float[] groups = new float[rows], total = new float[rows];
    List<Prompt> prompts = new ArrayList<>(rows);
    List<String> responses = new ArrayList<>(rows);
    List<Episode> played = episodes == null ? null : new ArrayList<>(rows);
    Map<String, float[]> terms = new LinkedHashMap<>();
    rounds.get(0).scores().terms().keySet().forEach(l -> terms.put(l, new float[rows]));
    for (int c = 0; c < chosen.size(); c++) {
      Round round = rounds.get(chosen.get(c)[0]);
      for (int k = 0; k < numSamples; k++) {
        int i = c * numSamples + k, src = chosen.get(c)[1] * numSamples + k;
        part[i] = chosen.get(c)[0];
        row[i] = src;
        groups[i] = c;
        total[i] = round.scores().total()[src];
        prompts.add(round.prompts().get(src));
        responses.add(round.responses().get(src));
        if (played != null) played.add(round.episodes().get(src));
        for (var e : terms.entrySet()) e.getValue()[i] = round.scores().terms().get(e.getKey())[src];
      }
    }
    Rollout merged = Rollout.gather(rounds.stream().map(Round::rollout).toList(), part, row);
    merged.write(RolloutField.GROUP_ID, groups);
    return new Batch(merged, prompts, responses, new RewardScores.Scores(total, terms), scoringSeconds, firstRow,
        played);
  }

  static List<int[]> tokens(List<Prompt> prompts) {
    List<int[]> out = new ArrayList<>(prompts.size());
    for (Prompt p : prompts) out.add(p.tokens());
    return out;
  }

  /** The rollout's responses as text, special tokens left out. */
  List<String> decode(Rollout rollout) {
    List<String> out = new ArrayList<>();
    for (int[] r : rollout.responses()) out.add(parts.tokenizer().decode(r, true));
    return out;
  }

  /** Each response's score: the reward model's or the reward function's, with the functions' terms. */
  RewardScores.Scores score(Rollout rollout, List<Prompt> prompts, List<String> responses) {
    return RewardScores.scoreTerms(rollout, parts.rewardModel(), parts.rewardFunction(),
        prompts.stream().map(Prompt::text).toList(), responses, prompts.stream().map(Prompt::fields).toList());
  }
}
