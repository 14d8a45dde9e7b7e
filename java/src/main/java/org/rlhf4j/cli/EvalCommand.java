package org.rlhf4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.cli.Inputs.PromptInput;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.ppo.RewardFunction;
import org.rlhf4j.ppo.RewardFunctions;
import org.rlhf4j.ppo.RewardScores;
import org.rlhf4j.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Generates for held-out prompts and measures the policy: mean score (reward model or function),
 * KL to a reference summed per response (k1 = sum of logprob - ref_logprob over the sampled
 * tokens, and the exact KL over the vocabulary), mean response length and EOS rate. Metrics are
 * named as the ppo command's eval/* metrics, so the numbers compare with metrics.jsonl.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Generate for prompts and report score, KL to a reference, response length and EOS rate.")
final class EvalCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Mixin ModelPromptOptions input;

  @ArgGroup(exclusive = true)
  Scorer scorer;

  static final class Scorer {
    @Option(names = "--reward-model", paramLabel = "DIR", description = "Score with this reward model.")
    Path rewardModel;

    @Option(names = "--reward-function", paramLabel = "CLASS",
        description = "Score with this Java RewardFunction (on the classpath).")
    String rewardFunction;
  }

  @Option(names = "--reference", paramLabel = "DIR",
      description = "Measure the KL to this model (e.g. the SFT model the run started from).")
  Path reference;

  @Mixin SamplingOptions sampling;

  @Option(names = "--out", paramLabel = "FILE", description = "Also write the results (and samples) as JSON; with "
      + "--pairs, one JSON line per pair (its token ids and summed log-probs).")
  Path out;

  @Option(names = "--pairs", paramLabel = "FILE.jsonl", description = "Instead of --prompts: preference pairs "
      + "{\"prompt\", \"chosen\", \"rejected\"} scored with DPO's implicit reward against --reference (TRL's metrics).")
  Path pairs;

  @Option(names = "--beta", paramLabel = "B", defaultValue = "0.1",
      description = "With --pairs: DPO's beta of the implicit reward beta (pi - ref) (default: ${DEFAULT-VALUE}).")
  double beta;

  /** One prompt's outcome; score and KLs are NaN when not measured. */
  private record Sample(PromptInput prompt, String response, int length, boolean ended, double score, double kl,
      double klFull) {}

  @Override
  public Integer call() throws IOException {
    if (pairs != null) return pairs();
    if (input.prompts == null) throw new UsageException("one of --prompts FILE or --pairs FILE is required");
    sampling.validate();
    Path dir = Inputs.modelDir("--model", input.model);
    Tokenizer tokenizer = Inputs.tokenizer("--model", dir);
    RewardFunction function = scorer != null && scorer.rewardFunction != null ? rewardFunction() : null;
    List<Model> models = new ArrayList<>();
    try {
      Model policy = keep(models, Inputs.model("--model", dir, sampling.device,
          c -> c.withValueHead(false).withRewardHead(false), new LoadOptions(false, true)));
      Model rm = scorer == null || scorer.rewardModel == null ? null : keep(models, rewardModel(policy));
      Model ref = reference == null ? null : keep(models, reference(policy));
      List<PromptInput> inputs = Inputs.prompts(input.prompts, input.promptField, dir, tokenizer,
          policy.config().nPositions(), sampling.maxNewTokens);
      List<Sample> samples = new ArrayList<>(inputs.size());
      Batches.generate("eval", policy, inputs, sampling.generateOptions(tokenizer, false, inputs, dir), sampling.batchSize,
          (batch, r) -> samples.addAll(measure(batch, r, tokenizer, policy, rm, function, ref)));
      Map<String, Double> metrics = metrics(samples);
      print(spec.commandLine().getOut(), dir, metrics);
      if (out != null) AtomicFile.write(out, w -> w.write(json(dir, metrics, samples)));
    } finally {
      models.forEach(Model::close);
    }
    return Main.OK;
  }

  /** eval --pairs (see {@link PairEval}). */
  private int pairs() throws IOException {
    if (input.prompts != null) throw new UsageException("--prompts and --pairs exclude each other");
    if (reference == null) throw new UsageException("--pairs needs --reference DIR: the model the policy started from");
    if (scorer != null) throw new UsageException("--pairs scores with the policy itself, not a reward model or function");
    if (!(beta > 0) || Double.isInfinite(beta)) throw new UsageException("--beta must be > 0, got " + beta);
    Path dir = Inputs.modelDir("--model", input.model);
    Tokenizer tokenizer = Inputs.tokenizer("--model", dir);
    try (Model policy = Inputs.model("--model", dir, sampling.device, c -> c.withValueHead(false).withRewardHead(false),
        new LoadOptions(false, true)); Model ref = reference(policy)) {
      List<PairEval.Scored> scored = new ArrayList<>();
      Map<String, Double> metrics = PairEval.run(policy, ref, tokenizer, dir, pairs, input.promptField, beta,
          sampling.batchSize, scored);
      PairEval.print(spec.commandLine().getOut(), dir, reference, pairs, beta, metrics);
      if (out != null) AtomicFile.write(out, w -> PairEval.write(w, scored));
    }
    return Main.OK;
  }

  private static Model keep(List<Model> models, Model m) {
    models.add(m);
    return m;
  }

  private RewardFunction rewardFunction() {
    try {
      return RewardFunctions.instantiate(scorer.rewardFunction);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage().replaceFirst("^reward\\.function: ", "--reward-function: "));
    }
  }

  private Model rewardModel(Model policy) {
    Path rmDir = Inputs.modelDir("--reward-model", scorer.rewardModel);
    // The reward head must come from the files: a fresh one would score at random.
    Model rm = Inputs.model("--reward-model", rmDir, sampling.device,
        c -> c.withRewardHead(true).withValueHead(false), new LoadOptions(false, true));
    if (rm.config().vocabSize() < policy.config().vocabSize()) {
      rm.close();
      throw new UsageException("--reward-model: its vocab_size (" + rm.config().vocabSize() + ") is below the model's ("
          + policy.config().vocabSize() + "): they must share a tokenizer");
    }
    return rm;
  }

  private Model reference(Model policy) {
    Path refDir = Inputs.modelDir("--reference", reference);
    Model ref = Inputs.model("--reference", refDir, sampling.device,
        c -> c.withValueHead(false).withRewardHead(false), LoadOptions.allowHeadChanges());
    if (ref.config().vocabSize() != policy.config().vocabSize()) {
      ref.close();
      throw new UsageException("--reference: its vocab_size (" + ref.config().vocabSize()
          + ") differs from the model's (" + policy.config().vocabSize() + "): they must share a tokenizer");
    }
    return ref;
  }

  private List<Sample> measure(List<PromptInput> batch, Rollout r, Tokenizer tokenizer, Model policy, Model rm,
      RewardFunction function, Model ref) {
    List<int[]> responses = r.responses();
    List<String> texts = new ArrayList<>();
    for (int[] t : responses) texts.add(tokenizer.decode(t, true));
    float[] scores = rm == null && function == null ? null
        : RewardScores.score(r, rm, function, batch.stream().map(PromptInput::text).toList(), texts,
            batch.stream().map(PromptInput::fields).toList());
    double[] k1 = null, full = null;
    if (ref != null) {
      // With the policy passed in, the same call also fills FULL_KL: one extra policy forward.
      r.scoreRef(ref, policy, sampling.scoringTemperature());
      double[] old = r.sumOverResponse(RolloutField.OLD_LOGPROBS), refLogprobs = r.sumOverResponse(RolloutField.REF_LOGPROBS);
      k1 = new double[old.length];
      for (int i = 0; i < old.length; i++) k1[i] = old[i] - refLogprobs[i];
      full = r.sumOverResponse(RolloutField.FULL_KL);
    }
    byte[] ended = r.bytes(RolloutField.ENDED);
    List<Sample> out = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      out.add(new Sample(batch.get(i), texts.get(i), responses.get(i).length, ended[i] != 0,
          scores == null ? Double.NaN : scores[i], k1 == null ? Double.NaN : k1[i], full == null ? Double.NaN : full[i]));
    }
    return out;
  }

  private Map<String, Double> metrics(List<Sample> samples) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/prompts", (double) samples.size());
    if (scorer != null) m.put("eval/scores", mean(samples, Sample::score));
    if (reference != null) {
      m.put("eval/kl", mean(samples, Sample::kl));
      m.put("eval/kl_full", mean(samples, Sample::klFull));
    }
    m.put("eval/response_length", mean(samples, s -> s.length()));
    m.put("eval/eos_rate", mean(samples, s -> s.ended() ? 1 : 0));
    return m;
  }

  private static double mean(List<Sample> samples, ToDoubleFunction<Sample> f) {
    return samples.stream().mapToDouble(f).average().orElse(Double.NaN);
  }

  private void print(PrintWriter w, Path dir, Map<String, Double> metrics) {
    w.printf("eval of %s on %s%n", dir, input.prompts);
    if (scorer != null) {
      w.printf("  scored by %s%n", scorer.rewardModel != null ? "reward model " + scorer.rewardModel
          : "function " + scorer.rewardFunction);
    }
    if (reference != null) w.printf("  KL to %s (summed per response: k1 and exact)%n", reference);
    metrics.forEach((k, v) -> w.printf("  %-22s %s%n", k, format(v)));
  }

  private static String format(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.6g", v);
  }

  private String json(Path dir, Map<String, Double> metrics, List<Sample> samples) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("model", dir.toString());
    root.put("prompts", input.prompts.toString());
    if (scorer != null) {
      root.put("reward", scorer.rewardModel != null ? scorer.rewardModel.toString() : scorer.rewardFunction);
    }
    if (reference != null) root.put("reference", reference.toString());
    ObjectNode s = root.putObject("sampling");
    s.put("max_new_tokens", sampling.maxNewTokens);
    s.put("temperature", sampling.temperature);
    s.put("top_k", sampling.topK);
    s.put("top_p", sampling.topP);
    s.put("seed", sampling.seed);
    s.put("batch_size", sampling.batchSize);
    ObjectNode m = root.putObject("metrics");
    metrics.forEach(m::put);
    var list = root.putArray("samples");
    for (Sample x : samples) {
      ObjectNode o = list.addObject();
      o.put("line", x.prompt().line());
      o.put("prompt", x.prompt().text());
      o.put("response", x.response());
      o.put("response_length", x.length());
      o.put("ended", x.ended());
      if (scorer != null) o.put("score", x.score());
      if (reference != null) {
        o.put("kl", x.kl());
        o.put("kl_full", x.klFull());
      }
    }
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
  }
}
