package org.rlhf4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.rlhf4j.chat.RenderWorkload;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.MemoryOptions;
import org.rlhf4j.engine.NativeLibrary;
import org.rlhf4j.engine.NativeLibraryException;
import org.rlhf4j.engine.ProcessGroup;
import org.rlhf4j.metrics.PeakRss;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.train.Distributed;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Times one PPO iteration by phase (rollout, ref, reward, learn) on random weights of a given
 * shape, and the machine's GEMM rate in the same run. The iteration is {@link PpoTrainer}'s own
 * (its sampling, feedback and learning phases, with the ppo command's defaults), so the bench
 * measures exactly what {@code rlhf4j ppo} runs. Prints a table and one JSON line. Run it
 * through scripts/bench. With --nproc N it starts N ranks on this machine (Gloo over loopback,
 * torchrun's environment), each taking batch / N prompts, and adds the all-reduce time and
 * bytes per optimizer step. --workload grpo runs {@link GrpoWorkload} instead.
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

  @Option(names = "--batch", description = "Prompts per iteration; supervised: rows (default: ${DEFAULT-VALUE}).")
  int batch = 16;

  @Option(names = "--prompt-len", description = "Prompt tokens (default: ${DEFAULT-VALUE}).")
  int promptLen = 64;

  @Option(names = "--new-tokens", description = "Generated tokens per prompt; supervised: the longest row, 512 "
      + "unless given (default: ${DEFAULT-VALUE}).")
  int newTokens = 64;

  @Option(names = "--minibatch", description = "PPO minibatch size (default: ${DEFAULT-VALUE}).")
  int minibatch = 8;

  @Option(names = "--epochs", description = "PPO epochs (default: ${DEFAULT-VALUE}).")
  int epochs = 4;

  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
  String device = "cpu";

  @Option(names = "--repeats", description = "Timed iterations after one warm-up; the median is reported (default: ${DEFAULT-VALUE}).")
  int repeats = 1;

  @Option(names = "--nproc", description = "Data-parallel ranks on this machine; batch is global (default: ${DEFAULT-VALUE}).")
  int nproc = 1;

  @Option(names = "--master-port", description = "Rendezvous port with --nproc (default: ${DEFAULT-VALUE}).")
  int masterPort = 29511;

  private Distributed dist = Distributed.current();

  @Option(names = "--dtype", paramLabel = "f32|bf16",
      description = "Weights and matrix products (bf16: float32 master weights and optimizer state, as model.dtype bf16). Default: ${DEFAULT-VALUE}.")
  String dtype = "f32";

  @Option(names = "--gemm-size", description = "n of the n x n x n products the GEMM reference rate is timed on (default: ${DEFAULT-VALUE}).")
  int gemmSize = 2048;

  @Option(names = "--vs-pytorch",
      description = "Also run the same iteration in plain PyTorch eager mode (bench/pytorch_ppo.py, float32) in this invocation, and print the ratio.")
  boolean vsPytorch;

  @Option(names = "--logits-chunk", description = "model.logits_chunk: LM-head rows at once, 0 = unchunked (default: ${DEFAULT-VALUE}).")
  long logitsChunk = MemoryOptions.DEFAULT_LOGITS_CHUNK;

  @Option(names = "--attention-chunk", description = "model.attention_chunk: attention query rows at once, forward and "
      + "backward, 0 = the whole scores matrix (default: ${DEFAULT-VALUE}).")
  long attentionChunk = MemoryOptions.DEFAULT_ATTENTION_CHUNK;

  @Option(names = "--gradient-checkpointing", description = "model.gradient_checkpointing: recompute blocks in backward.")
  boolean gradientCheckpointing;

  @Option(names = "--lora-r", description = "LoRA rank on every projection, 0 = full fine-tuning; with LoRA the "
      + "reference is the policy's base, no second model (default: ${DEFAULT-VALUE}).")
  int loraR;

  @Option(names = "--critic", paramLabel = "shared|separate|separate-own",
      description = "model.critic: a value head on the policy (shared), or a critic model of its own with its own "
          + "optimizer (separate); with LoRA a separate critic uses the policy's frozen base weights, separate-own "
          + "keeps a second copy (default: ${DEFAULT-VALUE}).")
  String critic = "shared";

  @Option(names = "--workload", paramLabel = "ppo|grpo|supervised|render", description = "ppo: one PPO iteration of "
      + "the shapes above; "
      + "grpo: GRPO as RL runs it now (GrpoWorkload: --batch prompts x --samples responses of forced ragged lengths, "
      + "defaults 8 x 8, 128-token prompts, lengths 16-256, minibatch 32, 1 epoch); supervised: SFT's loss, DPO's "
      + "reference log-probs and the reward model's loss over one padded batch of --batch ragged rows, lengths "
      + "--min-new-tokens to --new-tokens (defaults 64-512; SupervisedWorkload); render: microseconds per "
      + "chat-template render, 5000 x --repeats (RenderWorkload). Default: ${DEFAULT-VALUE}.")
  String workload = "ppo";

  @Option(names = "--samples", description = "grpo: responses per prompt (default: ${DEFAULT-VALUE}).")
  int samples = 8;

  @Option(names = "--min-new-tokens", description = "grpo: shortest forced response; supervised: shortest row, 64 "
      + "unless given; lengths are uniform in [this, --new-tokens], seeded (default: ${DEFAULT-VALUE}).")
  int minNewTokens = 16;

  @Option(names = "--max-forced-length", description = "grpo: longest forced response, 0 = --new-tokens; below "
      + "--new-tokens the rollout reserves more than its rows write, as RL runs with a generous max_new_tokens do "
      + "(default: ${DEFAULT-VALUE}).")
  int maxForcedLength;

  @Option(names = "--max-tokens-per-micro-batch", description = "grpo: ppo.max_tokens_per_micro_batch, 0 = one "
      + "micro-batch per minibatch (default: ${DEFAULT-VALUE}).")
  int maxTokensPerMicroBatch;

  @Option(names = "--keep-decoding-logprobs", description = "ppo.keep_decoding_logprobs: a bf16 rollout keeps the "
      + "log-probs it decoded with instead of the recomputing forward pass (verl's bypass mode).")
  boolean keepDecodingLogprobs;

  @Option(names = "--compare", paramLabel = "OPTIONS", description = "One variant: bench options added to the "
      + "others, as one argument (--compare='--dtype bf16'). Two or more run in turn, each in a process of its own, "
      + "for --rounds rounds (InterleavedRounds): medians, and each round's ratio to the first variant. --rounds "
      + "without --compare runs the options given that many times, each in a process of its own.")
  List<String> compare = new ArrayList<>();

  @Option(names = "--native", paramLabel = "PATH", description = "The native library to load (as -Drlhf4j.native); "
      + "with --compare, builds against each other: --compare='--native a/librlhf4j.so' --compare='--native b/...'.")
  java.nio.file.Path nativeLibrary;

  @Option(names = "--rounds", description = "Rounds of the --compare variants (default: ${DEFAULT-VALUE}).")
  int rounds = 3;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    checkOptions();
    if (nativeLibrary != null) useLibrary(nativeLibrary);
    if (!compare.isEmpty() || spec.commandLine().getParseResult().hasMatchedOption("--rounds")) return compareVariants();
    if (nproc > 1 && System.getenv("RANK") == null) return launchRanks();
    try (Distributed joined = Distributed.join(System.getenv(), java.time.Duration.ofMinutes(10), device)) {
      dist = joined;
      if (workload.equals("grpo")) return new GrpoWorkload(this, spec.commandLine().getParseResult()).run();
      if (workload.equals("supervised")) {
        return new SupervisedWorkload(this, spec.commandLine().getParseResult()).run();
      }
      if (workload.equals("render")) {
        PrintWriter out = new PrintWriter(System.out, true);
        out.println(new ObjectMapper().writeValueAsString(RenderWorkload.run(Math.max(1, repeats) * 5000, out)));
        return 0;
      }
      return measure();
    }
  }

  /**
   * --native: the library this process loads. Before anything has loaded one; a process that
   * already holds another (a test's JVM) refuses rather than time the wrong build.
   */
  private static void useLibrary(java.nio.file.Path path) {
    String before = System.setProperty(NativeLibrary.PROPERTY, path.toString());
    java.nio.file.Path loaded = NativeLibrary.path().toAbsolutePath().normalize();
    if (!loaded.equals(path.toAbsolutePath().normalize())) {
      if (before == null) System.clearProperty(NativeLibrary.PROPERTY);
      else System.setProperty(NativeLibrary.PROPERTY, before);
      throw new IllegalArgumentException("--native " + path + ": this process already loaded " + loaded);
    }
  }

  /** The --compare variants (without any, the options given), interleaved over --rounds rounds. */
  private int compareVariants() throws Exception {
    if (!workload.equals("ppo") && !workload.equals("grpo")) {
      throw new IllegalArgumentException("--compare times the ppo and grpo workloads, not '" + workload + "'");
    }
    List<String> base = InterleavedRounds.withoutRoundOptions(spec.commandLine().getParseResult().originalArgs());
    List<String> variants = compare.isEmpty() ? List.of("") : compare;
    return new InterleavedRounds(base, variants, rounds).run(new PrintWriter(System.out, true));
  }

  /** This benchmark again as nproc ranks with torchrun's environment; the exit code is the worst. */
  private int launchRanks() throws Exception {
    List<Process> ranks = new ArrayList<>();
    for (int r = 0; r < nproc; r++) {
      List<String> cmd = command();
      cmd.addAll(List.of(originalArgs));
      ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
      pb.environment().putAll(Map.of("RANK", "" + r, "WORLD_SIZE", "" + nproc, "LOCAL_RANK", "" + r,
          "LOCAL_WORLD_SIZE", "" + nproc, "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + masterPort));
      pb.environment().putIfAbsent("RLHF4J_THREADS", "" + Math.max(1, Runtime.getRuntime().availableProcessors() / nproc));
      ranks.add(pb.start());
    }
    int worst = 0;
    for (Process p : ranks) worst = Math.max(worst, p.waitFor());
    return worst;
  }

  private static String[] originalArgs = new String[0];

  /**
   * The command line of another bench process (a rank, an interleaved variant) up to its
   * arguments: this JVM's options, and the rlhf4j.* properties this process was given, which
   * name its library, Python and PyTorch peer (tests set them as properties).
   */
  static List<String> command() {
    List<String> cmd = new ArrayList<>(List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java")
        .toString()));
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    for (String key : System.getProperties().stringPropertyNames()) {
      if (key.startsWith("rlhf4j.")) cmd.add("-D" + key + "=" + System.getProperty(key));
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), PpoBench.class.getName()));
    return cmd;
  }

  private int measure() {
    if (batch % dist.worldSize() != 0 || minibatch % dist.worldSize() != 0) {
      throw new IllegalArgumentException("--batch and --minibatch must split evenly over the " + dist.worldSize()
          + " ranks");
    }
    Engine.BuildInfo info = Engine.buildInfo();
    DType dt = dtypeOf();
    // The load is read over every figure the run reports: the reference rates and the iterations.
    Optional<MachineLoad.Sample> start = MachineLoad.sample();
    Engine.GemmRate rate = Engine.gemmRate(device, dt, gemmSize, 5);
    double gemm = rate.gflops();
    List<Map<String, Double>> runs = new ArrayList<>();
    long sharedBytes;
    Optional<MachineLoad> load;
    try (PpoTrainer trainer = trainer(dt)) {
      sharedBytes = trainer.parts().critic() == null ? 0 : trainer.parts().critic().sharedBaseBytes();
      for (int i = 0; i <= repeats; i++) {
        Map<String, Double> t = iteration(trainer);
        if (i > 0) runs.add(t);  // iteration 0 warms caches and allocators
      }
      load = MachineLoad.since(start);
    }
    Map<String, Double> t = median(runs);
    if (!dist.isMain()) return 0;
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
    result.put("dtype", dtype);
    result.put("threads", info.threads());
    result.put("library", NativeLibrary.path().toString());
    result.put("blas", info.blas());
    JsonNode build = (JsonNode) json(info.json());
    result.put("decode_kernel", build.path("decode_kernel").asText(""));
    result.put("bf16_decode_kernel", build.path("bf16_decode_kernel").asText(""));
    result.put("bf16_matmul", build.path("bf16_matmul").asText(""));
    result.put("cpu_cache_mode", info.cpuCacheMode());
    result.put("seconds", t);
    result.put("generated_tokens_per_s", generated / t.get("rollout"));
    result.put("trained_tokens_per_s", trained / t.get("learn"));
    result.put("learn_gflops", learnFlops / t.get("learn") / 1e9);
    result.put("gemm_gflops", gemm);
    result.put("nproc", dist.worldSize());
    result.put("gemm_path", rate.best());
    result.put("gemm", json(rate.json()));
    // A decoding step reads every block matrix and the tied head once: the rollout's weight-read rate
    // (prefill included, so a lower bound) as a fraction of the machine's read bandwidth.
    double weightBytes = (dt == DType.BF16 ? 2.0 : 4.0) * (12.0 * dModel * dModel * layers + (double) vocab * dModel);
    double readGbps = ((JsonNode) json(rate.json())).path("read_gbps").asDouble(0);
    result.put("read_gbps", readGbps);
    result.put("rollout_fraction_of_read_bandwidth",
        readGbps > 0 ? weightBytes * newTokens / t.get("rollout") / 1e9 / readGbps : null);
    // Above 100% of the best GEMM the library has, a phase's rate is a measurement error
    // (the reference run was disturbed, or the FLOP count is wrong), never a result.
    double fraction = learnFlops / t.get("learn") / 1e9 / gemm;
    result.put("learn_fraction_of_gemm", fraction <= 1 ? fraction : null);
    result.put("measurement_error", fraction <= 1 ? null : String.format(
        "learn at %.0f%% of the GEMM reference rate: the reference or the timing was disturbed; rerun", 100 * fraction));
    Map<String, Object> pytorch = vsPytorch ? PytorchBaseline.run(this, info.threads()) : null;
    if (pytorch != null) {
      result.put("pytorch", pytorch);
      result.put("iteration_vs_pytorch", total(t) / (double) pytorch.get("total_seconds"));
    }
    result.put("logits_chunk", logitsChunk);
    result.put("attention_chunk", attentionChunk);
    result.put("gradient_checkpointing", gradientCheckpointing);
    result.put("keep_decoding_logprobs", keepDecodingLogprobs);
    result.put("lora_r", loraR);
    result.put("critic", critic);
    result.put("critic_shared_base_mb", sharedBytes / 1e6);
    double peakRss = PeakRss.gigabytes();
    result.put("peak_rss_gb", peakRss);
    result.putAll(MachineLoad.json(load));

    PrintWriter out = new PrintWriter(System.out, true);
    out.printf("PPO iteration: GPT-2 shape %d layers, d_model %d, %d heads, vocab %d; %d prompts x %d tokens, "
        + "%d new tokens, minibatch %d, %d epochs, %s on %s (%d threads, %s)%n", layers, dModel, heads, vocab, batch,
        promptLen, newTokens, minibatch, epochs, dtype, device, info.threads(), info.blas());
    if (dt == DType.BF16 && device.equals("cpu")) {
      out.printf("bf16 paths: decoding GEMM kernel %s, products of many rows %s%n", result.get("bf16_decode_kernel"),
          result.get("bf16_matmul"));
    }
    out.printf("%-10s %10s%n", "phase", "seconds");
    for (String phase : PHASES) out.printf("%-10s %10.3f%n", phase, t.get(phase));
    out.printf("rollout: %.0f generated tokens/s, weights read at %s of this machine's %.1f GB/s read bandwidth%n",
        result.get("generated_tokens_per_s"), result.get("rollout_fraction_of_read_bandwidth") instanceof Double f
            ? String.format("%.0f%%", 100 * f) : "(unmeasured)", readGbps);
    if (fraction <= 1) {
      out.printf("learn:   %.0f trained tokens/s, %.1f GFLOP/s = %.0f%% of this machine's %.1f GFLOP/s %s GEMM rate (%s)%n",
          result.get("trained_tokens_per_s"), result.get("learn_gflops"), 100 * fraction, gemm, dtype, rate.best());
    } else {
      out.printf("learn:   %.0f trained tokens/s, %.1f GFLOP/s; MEASUREMENT ERROR: %s (%s %.1f GFLOP/s by %s)%n",
          result.get("trained_tokens_per_s"), result.get("learn_gflops"), result.get("measurement_error"), dtype, gemm,
          rate.best());
    }
    int steps = epochs * (batch / minibatch);
    out.printf("optimizer: %.3f s of learn in %d steps, %.1f ms a step (gradient clipping and AdamW)%n",
        t.get(OPTIMIZER), steps, 1e3 * t.get(OPTIMIZER) / steps);
    if (dist.active()) {
      out.printf("ranks:   %d (Gloo over loopback), all-reduce %.4f s and %.1f MB per optimizer step (rank 0)%n",
          dist.worldSize(), t.get("allreduce_per_step"), t.get("allreduce_mb_per_step"));
    }
    out.printf("load:    %s%n", MachineLoad.describe(load));
    if (pytorch != null) {
      @SuppressWarnings("unchecked")
      Map<String, Double> theirs = (Map<String, Double>) pytorch.get("seconds");
      out.printf("%nplain PyTorch %s eager, %s, same shapes (bench/pytorch_ppo.py):%n", pytorch.get("torch"),
          pytorch.get("dtype"));
      out.printf("%-10s %10s %10s %8s%n", "phase", "rlhf4j", "pytorch", "ratio");
      for (var e : t.entrySet()) {
        if (!theirs.containsKey(e.getKey())) continue;  // the all-reduce figures are rlhf4j's alone
        out.printf("%-10s %10.3f %10.3f %7.2fx%n", label(e.getKey()), e.getValue(), theirs.get(e.getKey()),
            e.getValue() / theirs.get(e.getKey()));
      }
      out.printf("%-10s %10.3f %10.3f %7.2fx%n", "iteration", total(t), (double) pytorch.get("total_seconds"),
          result.get("iteration_vs_pytorch"));
      out.printf("plain PyTorch's load: %s%n", MachineLoad.describePeer(pytorch, load));
    }
    out.printf("memory:  peak RSS %.2f GB (logits_chunk %d, attention_chunk %d, gradient_checkpointing %s, lora_r %d, "
        + "critic %s, %.0f MB of base shared, CPU cache %s)%n", peakRss, logitsChunk, attentionChunk,
        gradientCheckpointing, loraR, critic, sharedBytes / 1e6, result.get("cpu_cache_mode"));
    try {
      out.println(new ObjectMapper().writeValueAsString(result));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    return 0;
  }

  /** The PPO workload's trainer ({@link BenchTrainer}): one response per prompt, minibatches in one micro-batch. */
  PpoTrainer trainer(DType dt) {
    return BenchTrainer.create(this, dt, List.of("generation.num_samples=1", "generation.max_new_tokens=" + newTokens,
        "ppo.micro_batch_size=" + minibatch), false);
  }

  /**
   * One iteration of the trainer ({@link PpoTrainer#step()}), timed by phase from its own
   * time/* metrics, in seconds: rollout (generation and the critic's values), ref, reward (the
   * reward model's scores, within sampling) and learn (rewards, advantages and the optimizer
   * steps); optimizer: the part of learn spent in optimizer steps (clipping and AdamW).
   */
  Map<String, Double> iteration(PpoTrainer trainer) {
    ProcessGroup.Counters before = dist.active() ? ProcessGroup.counters() : null;
    Map<String, Double> m = trainer.step().metrics();
    if (m.get("response_length/mean") != newTokens) {
      throw new IllegalStateException("the rollout did not generate " + newTokens + " tokens per prompt");
    }
    Map<String, Double> t = phaseSeconds(m);
    if (before != null) {
      ProcessGroup.Counters after = ProcessGroup.counters();
      double n = m.get("ppo/epochs") * (batch / minibatch);
      t.put("allreduce_per_step", (after.allreduceSeconds() - before.allreduceSeconds()) / n);
      t.put("allreduce_mb_per_step", (after.allreduceBytes() - before.allreduceBytes()) / n / 1e6);
    }
    return t;
  }

  /**
   * Model FLOPs of the learn phase: forward (2 per multiply-add) plus backward (twice the
   * forward) over every token of every epoch; the LM head runs on response positions only,
   * attention scores over the full (causal, computed dense) window. The last block computes
   * only the keys and values (its fused QKV product) of the prompt's columns before the first
   * scored one: no attention queries, output projection or MLP there.
   */
  private double learnFlops() {
    double d = dModel, tokens = (double) batch * (promptLen + newTokens), window = promptLen + newTokens;
    double lastBlockSkipped = (double) batch * (promptLen - 1);
    double blocks = 2 * 12 * d * d * layers * tokens - 2 * 9 * d * d * lastBlockSkipped;
    double attention = 2 * 2 * window * d * (layers * tokens - lastBlockSkipped);
    double lmHead = 2 * d * vocab * ((double) batch * newTokens);
    return 3 * (blocks + attention + lmHead) * epochs;
  }

  /** The phases an iteration is timed by, in order. */
  static final List<String> PHASES = List.of("rollout", "ref", "reward", "learn");

  /** The seconds of learn spent in optimizer steps: reported beside the phases, never added to them. */
  static final String OPTIMIZER = "optimizer";

  /**
   * A trainer step's phases and optimizer seconds from its time/* metrics: rollout without the
   * reward model's scoring (timed within sampling, reported as reward).
   */
  static Map<String, Double> phaseSeconds(Map<String, Double> metrics) {
    Map<String, Double> t = new LinkedHashMap<>();
    t.put("rollout", metrics.get("time/rollout") - metrics.get("time/reward"));
    t.put("ref", metrics.get("time/ref"));
    t.put("reward", metrics.get("time/reward"));
    t.put("learn", metrics.get("time/learn"));
    t.put(OPTIMIZER, metrics.get("time/optimizer"));
    return t;
  }

  /** A timing's row label: a phase's name, or a part of a phase's indented under it. */
  static String label(String timing) {
    return PHASES.contains(timing) ? timing : " " + timing;
  }

  /** An iteration's seconds: its four phases (the all-reduce figures are within learn). */
  static double total(Map<String, Double> seconds) {
    return PHASES.stream().mapToDouble(seconds::get).sum();
  }

  /** The last line of a process's output that is a JSON object (the bench's and its PyTorch peer's result), if any. */
  static java.util.Optional<String> lastJsonLine(String output) {
    return output.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b);
  }

  /**
   * The option values this process can check without the native library, before it runs anything:
   * a usage error names the first one refused.
   */
  void checkOptions() {
    dtypeOf();
    requireOneOf("--workload", workload, List.of("ppo", "grpo", "supervised", "render"));
    requireOneOf("--critic", critic, List.of("shared", "separate", "separate-own"));
    if (nativeLibrary != null && !java.nio.file.Files.isRegularFile(nativeLibrary)) {
      throw new IllegalArgumentException("--native: no file at " + nativeLibrary);
    }
  }

  /** A usage error unless value is one of allowed: "OPTION must be a, b or c, got 'value'". */
  private void requireOneOf(String option, String value, List<String> allowed) {
    if (allowed.contains(value)) return;
    String choices = String.join(", ", allowed.subList(0, allowed.size() - 1)) + " or " + allowed.get(allowed.size() - 1);
    throw new CommandLine.ParameterException(new CommandLine(this), option + " must be " + choices + ", got '" + value + "'");
  }

  /**
   * A child's arguments, checked as that process will parse and check them, without running it:
   * a --compare variant that would fail is refused before the first round, not after the runs
   * before it. Help and version are refused: they time nothing.
   */
  static void checkArguments(List<String> args) {
    CommandLine cli = cli();
    cli.parseArgs(args.toArray(String[]::new));
    if (cli.isUsageHelpRequested() || cli.isVersionHelpRequested()) {
      throw new IllegalArgumentException("--help and --version time nothing");
    }
    ((PpoBench) cli.getCommand()).checkOptions();
  }

  /** --dtype as a DType; a usage error names any other value. */
  DType dtypeOf() {
    return switch (dtype) {
      case "f32" -> DType.F32;
      case "bf16" -> DType.BF16;
      default -> throw new CommandLine.ParameterException(new CommandLine(this), "--dtype must be f32 or bf16, got '" + dtype + "'");
    };
  }

  static Object json(String text) {
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper().readTree(text);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static Map<String, Double> median(List<Map<String, Double>> runs) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String k : runs.get(0).keySet()) {
      double[] v = runs.stream().mapToDouble(m -> m.get(k)).sorted().toArray();
      out.put(k, v[v.length / 2]);
    }
    return out;
  }

  /**
   * The bench's command line. An option's value may be an option's name, as a --compare variant
   * of one flag is ("--compare=--vs-pytorch"); a mistyped value still fails its own check.
   */
  static CommandLine cli() {
    return new CommandLine(new PpoBench()).setAllowOptionsAsOptionParameters(true);
  }

  public static void main(String[] args) {
    originalArgs = args.clone();
    CommandLine cli = cli();
    // A refused option value, or a native library this jar cannot use, is one line, not a stack trace.
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (!(e instanceof IllegalArgumentException || e instanceof NativeLibraryException)) throw e;
      cmd.getErr().println("bench: " + e.getMessage());
      return 2;
    });
    System.exit(cli.execute(args));
  }
}
