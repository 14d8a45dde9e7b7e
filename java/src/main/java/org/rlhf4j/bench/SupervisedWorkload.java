package org.rlhf4j.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Dpo;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.MemoryOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TokenBatch;
import picocli.CommandLine.ParseResult;

/**
 * {@code scripts/bench --workload supervised}: the offline trainers' passes over one padded
 * batch of ragged sequences. --batch rows (16) of random tokens, lengths uniform in
 * [--min-new-tokens, --new-tokens] (64-512) from a fixed seed, right-padded to the longest, the
 * loss on each row's second half (the answer after its prompt). Times SFT's loss with its
 * backward, DPO's summed log-probs without gradients (its reference pass) and the reward model's
 * pairwise loss with its backward (rows [0, B/2) chosen, [B/2, B) rejected); the median of
 * --repeats after a warm-up.
 */
final class SupervisedWorkload {
  /** The seed of the lengths and tokens: every run draws the same batch. */
  static final long SEED = 13;

  private final PpoBench b;
  private final ParseResult given;

  SupervisedWorkload(PpoBench b, ParseResult given) {
    this.b = b;
    this.given = given;
  }

  private void defaults() {
    if (!given.hasMatchedOption("--min-new-tokens")) b.minNewTokens = 64;
    if (!given.hasMatchedOption("--new-tokens")) b.newTokens = 512;
    if (b.batch < 2 || b.batch % 2 != 0) {
      throw new IllegalArgumentException("--batch (" + b.batch + ") must be even: chosen and rejected halves");
    }
    if (b.minNewTokens < 2 || b.minNewTokens > b.newTokens) {
      throw new IllegalArgumentException("--min-new-tokens (" + b.minNewTokens + ") must be in [2, --new-tokens ("
          + b.newTokens + ")]");
    }
  }

  /** The batch: right-padded rows of random tokens, and its loss mask (each row's second half). */
  record Batch(TokenBatch tokens, byte[] lossMask, long realTokens, long lossTokens) {}

  static Batch batch(int rows, int min, int max, long vocab) {
    Random random = new Random(SEED);
    List<int[]> sequences = new ArrayList<>();
    for (int i = 0; i < rows; i++) {
      int[] s = new int[min + random.nextInt(max - min + 1)];
      for (int t = 0; t < s.length; t++) s[t] = random.nextInt((int) vocab);
      sequences.add(s);
    }
    TokenBatch tokens = TokenBatch.rightPadded(sequences, 0);
    byte[] lossMask = new byte[tokens.tokens().length];
    long real = 0;
    long loss = 0;
    for (int i = 0; i < rows; i++) {
      int len = sequences.get(i).length;
      real += len;
      for (int t = len / 2; t < len; t++, loss++) lossMask[i * tokens.seqLen() + t] = 1;
    }
    return new Batch(tokens, lossMask, real, loss);
  }

  int run() {
    defaults();
    DType dt = b.dtypeOf();
    Batch batch = batch(b.batch, b.minNewTokens, b.newTokens, b.vocab);
    TokenBatch t = batch.tokens();
    int half = b.batch / 2;
    TokenBatch chosen = t.rows(0, half);
    TokenBatch rejected = t.rows(half, half);
    ModelConfig shape = ModelConfig.gpt2(b.vocab, t.seqLen(), b.dModel, b.layers, b.heads).withDtype(dt);
    List<Map<String, Double>> runs = new ArrayList<>();
    Optional<MachineLoad> load;
    try (Model policy = Model.create(shape.withSeed(1), b.device);
        Model reward = Model.create(shape.withRewardHead(true).withSeed(2), b.device)) {
      MemoryOptions memory = new MemoryOptions(b.logitsChunk, b.gradientCheckpointing, b.attentionChunk);
      policy.setMemoryOptions(memory);
      reward.setMemoryOptions(memory);
      passes(policy, reward, batch, chosen, rejected);  // warms caches and allocators
      load = MachineLoad.during(() -> {
        for (int i = 0; i < b.repeats; i++) runs.add(passes(policy, reward, batch, chosen, rejected));
      });
    }
    print(PpoBench.median(runs), batch, dt, load);
    return 0;
  }

  /** SFT's loss, DPO's reference log-probs and the RM loss over the batch, each timed. */
  private static Map<String, Double> passes(Model policy, Model reward, Batch batch, TokenBatch chosen,
      TokenBatch rejected) {
    TokenBatch t = batch.tokens();
    Map<String, Double> s = new LinkedHashMap<>();
    long t0 = System.nanoTime();
    policy.lmLoss(t, batch.lossMask(), 1.0, true);
    long t1 = System.nanoTime();
    Dpo.sequenceLogps(policy, t, batch.lossMask());
    long t2 = System.nanoTime();
    reward.rmLoss(chosen, rejected, 1.0, true);
    long t3 = System.nanoTime();
    s.put("sft", (t1 - t0) / 1e9);
    s.put("sequence_logps", (t2 - t1) / 1e9);
    s.put("rm", (t3 - t2) / 1e9);
    return s;
  }

  private void print(Map<String, Double> seconds, Batch batch, DType dt, Optional<MachineLoad> load) {
    TokenBatch t = batch.tokens();
    long positions = (long) t.batch() * t.seqLen();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("workload", "supervised");
    r.put("shape", Map.of("layers", b.layers, "d_model", b.dModel, "heads", b.heads, "vocab", b.vocab));
    r.put("rows", t.batch());
    r.put("min_len", b.minNewTokens);
    r.put("max_len", b.newTokens);
    r.put("dtype", b.dtype);
    r.put("threads", Engine.buildInfo().threads());
    r.put("seconds", seconds);
    r.put("real_tokens", batch.realTokens());
    r.put("loss_tokens", batch.lossTokens());
    r.put("batch_padding", 1 - (double) batch.realTokens() / positions);
    r.put("sft_real_tokens_per_s", batch.realTokens() / seconds.get("sft"));
    r.put("peak_rss_gb", org.rlhf4j.metrics.PeakRss.gigabytes());
    r.putAll(MachineLoad.json(load));
    PrintWriter out = new PrintWriter(System.out, true);
    out.printf("supervised workload: GPT-2 shape %d layers, d_model %d, vocab %d; %d rows of %d-%d tokens (seed %d) "
        + "padded to %d (%.0f%% padding), loss on each row's second half, %s (%d threads)%n", b.layers, b.dModel,
        b.vocab, t.batch(), b.minNewTokens, b.newTokens, SEED, t.seqLen(), 100 * (double) r.get("batch_padding"), dt,
        r.get("threads"));
    out.printf("%-16s %10s%n", "pass", "seconds");
    out.printf("%-16s %10.3f%n", "sft (fwd+bwd)", seconds.get("sft"));
    out.printf("%-16s %10.3f%n", "dpo ref logps", seconds.get("sequence_logps"));
    out.printf("%-16s %10.3f%n", "rm (fwd+bwd)", seconds.get("rm"));
    out.printf("sft: %.0f real tokens/s; memory: peak RSS %.2f GB%n", r.get("sft_real_tokens_per_s"),
        r.get("peak_rss_gb"));
    out.printf("load: %s%n", MachineLoad.describe(load));
    try {
      out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(r));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
