package org.rlhf4j.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.MemoryOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Times one PPO iteration by phase (rollout, ref, reward, learn) on random weights of a given
 * shape, and the machine's GEMM rate in the same run. Prints a table and one JSON line. Run it
 * through scripts/bench.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Time one PPO iteration by phase and report tokens/s and the learn phase's GFLOP/s.")
public final class PpoBench implements Callable<Integer> {
  @Option(names = "--layers", description = "Transformer layers (default: ${DEFAULT-VALUE}).")
  int layers = 8;

  @Option(names = "--d-model", description = "Model width n_embd (default: ${DEFAULT-VALUE}).")
  int dModel = 512;

  @Option(names = "--heads", description = "Attention heads (default: ${DEFAULT-VALUE}).")
  int heads = 8;

  @Option(names = "--vocab", description = "Vocabulary size (default: ${DEFAULT-VALUE}).")
  int vocab = 50257;

  @Option(names = "--batch", description = "Prompts per iteration (default: ${DEFAULT-VALUE}).")
  int batch = 16;

  @Option(names = "--prompt-len", description = "Prompt tokens (default: ${DEFAULT-VALUE}).")
  int promptLen = 64;

  @Option(names = "--new-tokens", description = "Generated tokens per prompt (default: ${DEFAULT-VALUE}).")
  int newTokens = 64;

  @Option(names = "--minibatch", description = "PPO minibatch size (default: ${DEFAULT-VALUE}).")
  int minibatch = 8;

  @Option(names = "--epochs", description = "PPO epochs (default: ${DEFAULT-VALUE}).")
  int epochs = 4;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
  String device = "cpu";

  @Option(names = "--repeats", description = "Timed iterations after one warm-up; the median is reported (default: ${DEFAULT-VALUE}).")
  int repeats = 1;

  @Option(names = "--logits-chunk", description = "model.logits_chunk: LM-head rows at once, 0 = unchunked (default: ${DEFAULT-VALUE}).")
  long logitsChunk = MemoryOptions.DEFAULT_LOGITS_CHUNK;

  @Option(names = "--gradient-checkpointing", description = "model.gradient_checkpointing: recompute blocks in backward.")
  boolean gradientCheckpointing;

  @Option(names = "--lora-r", description = "LoRA rank on every projection, 0 = full fine-tuning; with LoRA the "
      + "reference is the policy's base, no second model (default: ${DEFAULT-VALUE}).")
  int loraR;

  @Override
  public Integer call() {
    Engine.BuildInfo info = Engine.buildInfo();
    double gemm = Engine.gemmGflops(device, 2048, 5);
    ModelConfig shape = ModelConfig.gpt2(vocab, promptLen + newTokens, dModel, layers, heads);
    List<Map<String, Double>> runs = new ArrayList<>();
    try (Model policy = Model.create(shape.withValueHead(true).withSeed(1), device);
        Model ref = loraR > 0 ? null : Model.create(shape.withSeed(1), device);
        Model reward = Model.create(shape.withRewardHead(true).withSeed(2), device)) {
      if (loraR > 0) policy.addLora(LoraOptions.of(loraR, 2.0 * loraR));
      MemoryOptions memory = new MemoryOptions(logitsChunk, gradientCheckpointing);
      for (Model m : java.util.Arrays.asList(policy, ref, reward)) {
        if (m != null) m.setMemoryOptions(memory);
      }
      try (Optimizer opt = Optimizer.create(policy, new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.0, 1.0))) {
        run(policy, ref, reward, opt, runs);
      }
    }
    Map<String, Double> t = median(runs);
    double generated = (double) batch * newTokens;
    double trained = (double) batch * (promptLen + newTokens) * epochs;
    double learnFlops = learnFlops();
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("shape", Map.of("layers", layers, "d_model", dModel, "heads", heads, "vocab", vocab));
    result.put("batch", batch);
    result.put("prompt_len", promptLen);
    result.put("new_tokens", newTokens);
    result.put("minibatch", minibatch);
    result.put("epochs", epochs);
    result.put("device", device);
    result.put("threads", info.threads());
    result.put("blas", info.blas());
    result.put("seconds", t);
    result.put("generated_tokens_per_s", generated / t.get("rollout"));
    result.put("trained_tokens_per_s", trained / t.get("learn"));
    result.put("learn_gflops", learnFlops / t.get("learn") / 1e9);
    result.put("gemm_gflops", gemm);
    result.put("learn_fraction_of_gemm", learnFlops / t.get("learn") / 1e9 / gemm);
    result.put("logits_chunk", logitsChunk);
    result.put("gradient_checkpointing", gradientCheckpointing);
    result.put("lora_r", loraR);
    double peakRss = PeakRss.gigabytes();
    result.put("peak_rss_gb", peakRss);

    PrintWriter out = new PrintWriter(System.out, true);
    out.printf("PPO iteration: GPT-2 shape %d layers, d_model %d, %d heads, vocab %d; %d prompts x %d tokens, "
        + "%d new tokens, minibatch %d, %d epochs on %s (%d threads, %s)%n", layers, dModel, heads, vocab, batch,
        promptLen, newTokens, minibatch, epochs, device, info.threads(), info.blas());
    out.printf("%-10s %10s%n", "phase", "seconds");
    for (var e : t.entrySet()) out.printf("%-10s %10.3f%n", e.getKey(), e.getValue());
    out.printf("rollout: %.0f generated tokens/s%n", result.get("generated_tokens_per_s"));
    out.printf("learn:   %.0f trained tokens/s, %.1f GFLOP/s = %.0f%% of this machine's %.1f GFLOP/s GEMM rate%n",
        result.get("trained_tokens_per_s"), result.get("learn_gflops"),
        100 * (double) result.get("learn_fraction_of_gemm"), gemm);
    out.printf("memory:  peak RSS %.2f GB (logits_chunk %d, gradient_checkpointing %s, lora_r %d)%n", peakRss,
        logitsChunk, gradientCheckpointing, loraR);
    try {
      out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(result));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return 0;
  }

  private void run(Model policy, Model ref, Model reward, Optimizer opt, List<Map<String, Double>> runs) {
    List<int[]> prompts = prompts();
    for (int i = 0; i <= repeats; i++) {
      Map<String, Double> t = iteration(policy, ref, reward, opt, prompts, i);
      if (i > 0) runs.add(t);  // iteration 0 warms caches and allocators
    }
  }

  private List<int[]> prompts() {
    Random rnd = new Random(7);
    List<int[]> prompts = new ArrayList<>();
    for (int b = 0; b < batch; b++) {
      int[] p = new int[promptLen];
      for (int i = 0; i < p.length; i++) p[i] = rnd.nextInt(vocab);
      prompts.add(p);
    }
    return prompts;
  }

  /** One iteration, timed by phase, in seconds. */
  private Map<String, Double> iteration(Model policy, Model ref, Model reward, Optimizer opt, List<int[]> prompts,
      int seed) {
    Map<String, Double> t = new LinkedHashMap<>();
    long t0 = System.nanoTime();
    // No EOS: every sample generates exactly newTokens tokens.
    GenerateOptions gen = GenerateOptions.sampling(newTokens).withValues(true).withSeed(seed);
    try (Rollout r = policy.generate(prompts, gen)) {
      long t1 = System.nanoTime();
      if (ref == null) r.scoreRefBase(policy, 1.0, false);
      else r.scoreRef(ref, null, 1.0);
      long t2 = System.nanoTime();
      r.scoreReward(reward);
      long t3 = System.nanoTime();
      PpoOptions ppo = PpoOptions.standard();
      r.rewards(ppo, 0.05, 0.0, 1.0);
      r.advantages(ppo);
      Random shuffle = new Random(seed);
      for (int epoch = 0; epoch < epochs; epoch++) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < batch; i++) order.add(i);
        java.util.Collections.shuffle(order, shuffle);
        for (int start = 0; start < batch; start += minibatch) {
          long[] idx = order.subList(start, Math.min(batch, start + minibatch)).stream()
              .mapToLong(Integer::longValue).toArray();
          r.accumulate(policy, null, idx, ppo, 1.0);
          opt.step(1e-6);
        }
      }
      long t4 = System.nanoTime();
      if (r.responseLen() != newTokens || r.ints(RolloutField.RESPONSE_LENGTH)[0] != newTokens) {
        throw new IllegalStateException("the rollout did not generate " + newTokens + " tokens per prompt");
      }
      t.put("rollout", (t1 - t0) / 1e9);
      t.put("ref", (t2 - t1) / 1e9);
      t.put("reward", (t3 - t2) / 1e9);
      t.put("learn", (t4 - t3) / 1e9);
    }
    return t;
  }

  /**
   * Model FLOPs of the learn phase: forward (2 per multiply-add) plus backward (twice the
   * forward) over every token of every epoch; the LM head runs on response positions only,
   * attention scores over the full (causal, computed dense) window.
   */
  private double learnFlops() {
    double d = dModel, tokens = (double) batch * (promptLen + newTokens), window = promptLen + newTokens;
    double blocks = 2 * 12 * d * d * layers * tokens;
    double attention = 2 * 2 * window * d * layers * tokens;
    double lmHead = 2 * d * vocab * ((double) batch * newTokens);
    return 3 * (blocks + attention + lmHead) * epochs;
  }

  private static Map<String, Double> median(List<Map<String, Double>> runs) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String k : runs.get(0).keySet()) {
      double[] v = runs.stream().mapToDouble(m -> m.get(k)).sorted().toArray();
      out.put(k, v[v.length / 2]);
    }
    return out;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new PpoBench()).execute(args));
  }
}
