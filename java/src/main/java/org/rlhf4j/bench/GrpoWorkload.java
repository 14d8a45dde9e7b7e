package org.rlhf4j.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.ppo.PpoTrainer;
import picocli.CommandLine.ParseResult;

/**
 * {@code scripts/bench --workload grpo}: a GRPO iteration as RL runs look now. --batch prompts
 * (8) of --prompt-len random tokens (128), --samples responses each (8), whose lengths are drawn
 * once, uniform in [--min-new-tokens, --new-tokens] (16-256) from a fixed seed, and forced
 * (random weights never choose EOS: r4j_bench_force_lengths stops row b after its length, as
 * if it had produced EOS); the grpo preset, one epoch of minibatches of --minibatch (32), one
 * micro-batch each unless --max-tokens-per-micro-batch. Reports the live generated tokens/s
 * (real response tokens over the rollout's time), the trained tokens/s (real prompt + response
 * tokens over the learning time) and the padding waste of the learning passes and of a static
 * decoding batch; with --vs-pytorch the same workload in plain PyTorch (static batch: every
 * row decodes to the longest, the minibatch pads to it).
 */
final class GrpoWorkload {
  /** The seed of the forced lengths: every run and the PyTorch twin draw the same ones. */
  static final long LENGTH_SEED = 11;

  private final PpoBench b;
  private final ParseResult given;

  GrpoWorkload(PpoBench b, ParseResult given) {
    this.b = b;
    this.given = given;
  }

  /** The workload where the command line did not say otherwise. */
  private void defaults() {
    if (!given.hasMatchedOption("--batch")) b.batch = 8;
    if (!given.hasMatchedOption("--prompt-len")) b.promptLen = 128;
    if (!given.hasMatchedOption("--new-tokens")) b.newTokens = 256;
    if (!given.hasMatchedOption("--minibatch")) b.minibatch = 32;
    if (!given.hasMatchedOption("--epochs")) b.epochs = 1;
    if (b.minNewTokens < 1 || b.minNewTokens > b.newTokens) {
      throw new IllegalArgumentException("--min-new-tokens (" + b.minNewTokens + ") must be in [1, --new-tokens ("
          + b.newTokens + ")]");
    }
    if (b.maxForcedLength != 0 && (b.maxForcedLength < b.minNewTokens || b.maxForcedLength > b.newTokens)) {
      throw new IllegalArgumentException("--max-forced-length (" + b.maxForcedLength + ") must be 0 or in [--min-new-tokens ("
          + b.minNewTokens + "), --new-tokens (" + b.newTokens + ")]");
    }
  }

  /** The longest forced response length. */
  private int longestForced() {
    return b.maxForcedLength == 0 ? b.newTokens : b.maxForcedLength;
  }

  /** Row b's forced response length (rows prompt-major: a prompt's samples are adjacent). */
  static int[] lengths(int rows, int min, int max) {
    Random random = new Random(LENGTH_SEED);
    int[] out = new int[rows];
    for (int i = 0; i < rows; i++) out[i] = min + random.nextInt(max - min + 1);
    return out;
  }

  int run() {
    defaults();
    DType dt = b.dtypeOf();
    int rows = b.batch * b.samples;
    int[] lengths = lengths(rows, b.minNewTokens, longestForced());
    List<String> sets = List.of("ppo.preset=grpo", "generation.num_samples=" + b.samples,
        "generation.max_new_tokens=" + b.newTokens, "ppo.micro_batch_size=" + b.minibatch,
        "ppo.max_tokens_per_micro_batch=" + b.maxTokensPerMicroBatch);
    List<Map<String, Double>> runs = new ArrayList<>();
    Optional<MachineLoad> load;
    Engine.benchForceLengths(lengths);
    try (PpoTrainer trainer = BenchTrainer.create(b, dt, sets, true)) {
      List<int[]> generated = new ArrayList<>();
      trainer.addRolloutObserver((it, prompts, rollout) -> generated.add(rollout.ints(RolloutField.RESPONSE_LENGTH)));
      iteration(trainer, generated, lengths);  // warms caches and allocators
      load = MachineLoad.during(() -> {
        for (int i = 0; i < b.repeats; i++) runs.add(iteration(trainer, generated, lengths));
      });
    } finally {
      Engine.benchForceLengths(new int[0]);
    }
    print(PpoBench.median(runs), lengths, dt, load);
    return 0;
  }

  /** One step, timed by phase from its metrics, with its padding waste; refused unless it generated the forced lengths. */
  private static Map<String, Double> iteration(PpoTrainer trainer, List<int[]> generated, int[] lengths) {
    Map<String, Double> m = trainer.step().metrics();
    if (!Arrays.equals(lengths, generated.getLast())) {
      throw new IllegalStateException("the rollout's lengths " + Arrays.toString(generated.getLast())
          + " are not the forced " + Arrays.toString(lengths));
    }
    Map<String, Double> t = PpoBench.phaseSeconds(m);
    t.put("padding_waste", m.get("learn/padding_waste"));
    return t;
  }

  private void print(Map<String, Double> t, int[] lengths, DType dt, Optional<MachineLoad> load) {
    long generated = Arrays.stream(lengths).asLongStream().sum();
    long trained = (generated + (long) lengths.length * b.promptLen) * b.epochs;
    int longest = Arrays.stream(lengths).max().orElse(0);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("workload", "grpo");
    r.put("shape", Map.of("layers", b.layers, "d_model", b.dModel, "heads", b.heads, "vocab", b.vocab));
    r.put("prompts", b.batch);
    r.put("samples", b.samples);
    r.put("prompt_len", b.promptLen);
    r.put("min_new_tokens", b.minNewTokens);
    r.put("max_new_tokens", b.newTokens);
    r.put("max_forced_length", longestForced());
    r.put("minibatch", b.minibatch);
    r.put("epochs", b.epochs);
    r.put("max_tokens_per_micro_batch", b.maxTokensPerMicroBatch);
    r.put("live_rows", !"0".equals(System.getenv("RLHF4J_LIVE_ROWS")));
    r.put("dtype", b.dtype);
    r.put("threads", Engine.buildInfo().threads());
    r.put("library", org.rlhf4j.engine.NativeLibrary.path().toString());
    Map<String, Double> seconds = new LinkedHashMap<>(t);
    double learnWaste = seconds.remove("padding_waste");
    r.put("seconds", seconds);
    r.put("generated_tokens", generated);
    r.put("live_generated_tokens_per_s", generated / t.get("rollout"));
    r.put("trained_tokens", trained);
    r.put("trained_tokens_per_s", trained / t.get("learn"));
    r.put("padding_waste", learnWaste);
    r.put("static_decoding_padding_waste", 1 - (double) generated / ((double) lengths.length * longest));
    r.put("peak_rss_gb", org.rlhf4j.metrics.PeakRss.gigabytes());
    r.put("cpu_cache_mode", Engine.buildInfo().cpuCacheMode());
    r.putAll(MachineLoad.json(load));
    Map<String, Object> pytorch = b.vsPytorch ? PytorchBaseline.runGrpo(b, Engine.buildInfo().threads(), lengths) : null;
    if (pytorch != null) {
      r.put("pytorch", pytorch);
      @SuppressWarnings("unchecked")
      Map<String, Double> theirs = (Map<String, Double>) pytorch.get("seconds");
      r.put("rollout_tokens_per_s_vs_pytorch", theirs.get("rollout") / t.get("rollout"));
      r.put("learn_tokens_per_s_vs_pytorch", theirs.get("learn") / t.get("learn"));
    }
    PrintWriter out = new PrintWriter(System.out, true);
    out.printf("GRPO workload: GPT-2 shape %d layers, d_model %d, vocab %d; %d prompts x %d tokens x %d samples, "
        + "forced lengths %d-%d (seed %d) of at most %d, minibatch %d, %d epoch(s), %s (%d threads)%n", b.layers,
        b.dModel, b.vocab, b.batch, b.promptLen, b.samples, b.minNewTokens, longestForced(), LENGTH_SEED, b.newTokens,
        b.minibatch, b.epochs, dt,
        r.get("threads"));
    out.printf("%-10s %10s%n", "phase", "seconds");
    for (var e : seconds.entrySet()) out.printf("%-10s %10.3f%n", PpoBench.label(e.getKey()), e.getValue());
    out.printf("rollout: %.0f live generated tokens/s (%d real tokens; a static batch would pad %.0f%% of its steps)%n",
        r.get("live_generated_tokens_per_s"), generated, 100 * (double) r.get("static_decoding_padding_waste"));
    out.printf("learn:   %.0f trained tokens/s (%d real tokens), padding %.0f%% of the learning passes' positions%n",
        r.get("trained_tokens_per_s"), trained, 100 * learnWaste);
    out.printf("memory:  peak RSS %.2f GB (CPU cache %s)%n", r.get("peak_rss_gb"), r.get("cpu_cache_mode"));
    out.printf("load:    %s%n", MachineLoad.describe(load));
    if (pytorch != null) {
      out.printf("plain PyTorch (static batch): rollout %.3f s, learn %.3f s; rlhf4j's tokens/s are %.2fx and %.2fx%n",
          ((Map<?, ?>) pytorch.get("seconds")).get("rollout"), ((Map<?, ?>) pytorch.get("seconds")).get("learn"),
          r.get("rollout_tokens_per_s_vs_pytorch"), r.get("learn_tokens_per_s_vs_pytorch"));
      out.printf("plain PyTorch's load: %s%n", MachineLoad.describePeer(pytorch, load));
    }
    try {
      out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(r));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
