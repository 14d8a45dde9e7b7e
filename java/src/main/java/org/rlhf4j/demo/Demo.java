package org.rlhf4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.PpoPreset;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.Precision;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.demo.task.ReviewTask;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.metrics.PeakRss;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.rm.RewardModelTrainer;
import org.rlhf4j.rm.RmParts;
import org.rlhf4j.rm.RmResult;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftResult;
import org.rlhf4j.sft.SftTrainer;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The project's main job on its built-in task, end to end with no downloads: a tiny GPT is
 * fine-tuned on generated reviews (SFT), a reward model learns sentiment from noisy preference
 * pairs, and PPO tunes the policy against that reward model; every stage reads TRL's
 * conversational data through the demo's chat template ({@link DemoChatTemplate}). The task's hidden judges (gold
 * sentiment, grammatical validity) then measure, on held-out prompts, whether the policy really
 * improved or only fooled the reward model. Several RL algorithms can run from the same SFT
 * policy and reward model, each into DIR/&lt;algo&gt; (DIR/ppo for PPO), and the report sets them
 * side by side. Leaves DIR/sft, DIR/rm and the RL directories (loadable by generate and eval),
 * DIR/summary.json and DIR/report.html.
 *
 * <p>Not thread-safe; one demo per run directory.
 */
public final class Demo {
  private static final Logger LOG = LoggerFactory.getLogger(Demo.class);
  /**
   * Longest opening (8 words) rendered by the chat template (plus BOS, {@code <user>}, EOS and
   * {@code <assistant>}), and context for the longest continuation plus EOS.
   */
  private static final int MAX_PROMPT_TOKENS = ReviewTask.MAX_PROMPT_WORDS + 4;
  private static final int MAX_NEW_TOKENS = ReviewTask.MAX_RESPONSE_WORDS + 1;
  private static final int CONTEXT = 32;
  /** Held-out prompts scored by the gold judge during PPO, for its curve. */
  private static final int CURVE_PROMPTS = 64;

  /** The built-in tasks of {@code demo --task}: this class runs review; tools is {@link org.rlhf4j.demo.tools.ToolsDemo}. */
  public static final List<String> TASKS = List.of("review", "tools");

  /** The RL algorithms the demo runs: PPO (with --preset) or a critic-free preset of the same loop. */
  public static final List<String> ALGORITHMS = List.of("ppo", "grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp",
      "dpo");

  /**
   * What to run: where, how big, which algorithms (PPO with its preset, or other presets of the
   * same loop; each from the same SFT policy and reward model), scored by the reward model (RLHF)
   * or the gold judge (RLVR), which seed, which model.dtype for every stage.
   */
  public record Options(Path out, DemoScale scale, String preset, long seed, List<String> algos, String reward,
      Precision dtype) {
    public Options {
      if (!preset.equals("seed") && !preset.equals("standard")) {
        throw new IllegalArgumentException("--preset must be seed or standard, got '" + preset + "'");
      }
      if (algos.isEmpty()) throw new IllegalArgumentException("--algo names no algorithm");
      for (String algo : algos) {
        if (!ALGORITHMS.contains(algo)) {
          throw new IllegalArgumentException("--algo must be one of " + String.join("|", ALGORITHMS)
              + " (or several, comma-separated, or all), got '" + algo + "'");
        }
      }
      if (new HashSet<>(algos).size() != algos.size()) {
        throw new IllegalArgumentException("--algo names an algorithm twice: " + String.join(",", algos));
      }
      algos = List.copyOf(algos);
      if (!reward.equals("model") && !reward.equals("gold")) {
        throw new IllegalArgumentException("--reward must be model or gold, got '" + reward + "'");
      }
      if (dtype == null) throw new IllegalArgumentException("dtype is required");
    }

    /** PPO with the reward model, in float32. */
    public Options(Path out, DemoScale scale, String preset, long seed) {
      this(out, scale, preset, seed, List.of("ppo"), "model", Precision.F32);
    }

    /** The ppo.preset algo's RL stage runs (dpo: none, it is not RL). */
    public String ppoPreset(String algo) {
      return algo.equals("ppo") ? preset : algo;
    }

    String dtypeKey() {
      return "model.dtype=" + dtype.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final Options options;
  private final DemoScale scale;
  private final ReviewTask task;
  private final WordTokenizer tokenizer;
  private final Path out;
  /** The curve's held-out openings by their rendering with the generation prompt (a run's prompt text). */
  private final Map<String, String> curveOpenings = new LinkedHashMap<>();

  public Demo(Options options) {
    this.options = options;
    this.scale = options.scale();
    this.task = new ReviewTask(options.seed());
    this.tokenizer = DemoVocabulary.tokenizer(task);
    this.out = options.out();
    for (String o : task.heldOutPrompts(CURVE_PROMPTS)) curveOpenings.put(DemoChatTemplate.prompt(o), o);
  }

  /** Runs every stage and returns the summary (also written to DIR/summary.json). */
  public DemoSummary run() throws IOException {
    refuseExistingRun(out);
    Map<String, Double> seconds = new LinkedHashMap<>();
    long t0 = System.nanoTime();

    LOG.info("demo: writing the built-in task's data into {}", out.resolve("data"));
    Path data = DemoData.write(out.resolve("data"), task, scale, options.seed(), CURVE_PROMPTS);
    Path init = writeInitialModel();
    seconds.put("data", (System.nanoTime() - t0) / 1e9);

    long t = System.nanoTime();
    LOG.info("demo: supervised fine-tuning (SFT) -> {}", out.resolve("sft"));
    SftResult sft = sft(init, data);
    seconds.put("sft", (System.nanoTime() - t) / 1e9);

    t = System.nanoTime();
    LOG.info("demo: reward model (Bradley-Terry on preference pairs) -> {}", out.resolve("rm"));
    RmResult rm = rewardModel(data);
    seconds.put("rm", (System.nanoTime() - t) / 1e9);

    List<String> prompts = task.heldOutPrompts(scale.evalPrompts());
    GoldEval.Result before;
    t = System.nanoTime();
    try (Model reference = load(out.resolve("sft"), c -> c.withValueHead(false));
        Model rewardModel = loadRewardModel()) {
      before = evaluate(reference, reference, rewardModel, prompts);
    }
    double evaluation = (System.nanoTime() - t) / 1e9;

    List<DemoSummary.Run> runs = new ArrayList<>();
    for (String algo : options.algos()) {
      String preset = options.ppoPreset(algo);
      LOG.info("demo: {} ({} preset, reward {}) -> {}", algo, preset, options.reward(), out.resolve(algo));
      // The peak of this stage alone: the shared stages and earlier runs do not count. What they
      // left for reuse goes back to the system first (the JVM's free heap, the native library's
      // free pages: ~0.4 GB after SFT), else it sits under this stage's own memory and the
      // figure moves with when the collector last ran.
      System.gc();
      Engine.releaseCachedMemory();
      PeakRss.reset();
      t = System.nanoTime();
      List<Map<String, Double>> goldCurve = algo.equals("dpo")
          ? DpoStage.run(out, data, scale, CONTEXT, List.of("run.seed=" + options.seed(), options.dtypeKey()),
              this::curvePoint)
          : rl(algo, data);
      double rlSeconds = (System.nanoTime() - t) / 1e9;
      double peak = PeakRss.gigabytes();
      t = System.nanoTime();
      LOG.info("demo: judging the {} policy on {} held-out prompts", algo, prompts.size());
      GoldEval.Result after;
      try (Model reference = load(out.resolve("sft"), c -> c.withValueHead(false));
          Model rewardModel = loadRewardModel();
          Model policy = load(out.resolve(algo), c -> c.withValueHead(false))) {
        after = evaluate(policy, reference, rewardModel, prompts);
      }
      evaluation += (System.nanoTime() - t) / 1e9;
      runs.add(new DemoSummary.Run(algo, preset, after.table(), goldCurve, rlSeconds, peak, samples(after)));
    }
    seconds.put("evaluation", evaluation);
    seconds.put("total", (System.nanoTime() - t0) / 1e9);

    DemoSummary summary = new DemoSummary(options.reward(), scale, sft.evalLoss(), rm.evalAccuracy(), before.table(),
        runs, seconds, samples(before));
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("summary.json").toFile(),
        summary);
    DemoReport.write(out, summary);
    return summary;
  }

  private GoldEval.Result evaluate(Model policy, Model reference, Model rewardModel, List<String> prompts) {
    return GoldEval.evaluate(policy, reference, rewardModel, tokenizer, task, prompts, MAX_NEW_TOKENS,
        options.seed() + 1, 64);
  }

  private Model loadRewardModel() {
    return load(out.resolve("rm"), c -> c.withRewardHead(true).withValueHead(false));
  }

  /** A run directory that holds anything is never written into: nothing a user made is lost. */
  public static void refuseExistingRun(Path out) throws IOException {
    if (Files.isDirectory(out)) {
      try (Stream<Path> entries = Files.list(out)) {
        if (entries.findAny().isPresent()) {
          throw new IllegalArgumentException("--out " + out + " is not empty; choose another directory");
        }
      }
    } else if (Files.exists(out)) {
      throw new IllegalArgumentException("--out " + out + " exists and is not a directory");
    }
  }

  /** A randomly initialised GPT-2 over the word tokenizer: where SFT starts. */
  private Path writeInitialModel() {
    Path dir = out.resolve("init");
    ModelConfig config = ModelConfig.gpt2(tokenizer.vocabSize(), CONTEXT, scale.nEmbd(), scale.nLayer(), scale.nHead())
        .withSeed(options.seed());
    try (Model m = Model.create(config, "cpu")) {
      HfConfig hf = HfConfig.of(m.config()).withTokenIds(tokenizer.bosId(), List.of(tokenizer.eosId()),
          tokenizer.padId());
      new CheckpointWriter().model(m, hf).file("tokenizer.json", tokenizer::save)
          .file("tokenizer_config.json", DemoChatTemplate::writeConfig).writeTo(dir, false);
    }
    return dir;
  }

  private SftResult sft(Path init, Path data) throws IOException {
    int batch = 64;
    SftRunConfig config = SftRunConfig.loader().load(List.of(
        "run.out=" + out.resolve("sft"), "run.seed=" + options.seed(), "model.path=" + init,
        "data.prompts=" + data.resolve("sft.jsonl"), "data.eval_fraction=0.05",
        "data.max_prompt_tokens=" + MAX_PROMPT_TOKENS, "sft.max_seq_len=" + CONTEXT,
        "sft.epochs=" + scale.sftEpochs(), "sft.batch_size=" + batch, "sft.micro_batch_size=" + batch,
        "sft.warmup_steps=50", "sft.decay=cosine", "optim.lr=" + scale.sftLr(), "optim.max_grad_norm=1.0",
        options.dtypeKey()));
    try (SftParts parts = SftParts.load(config); SftTrainer trainer = new SftTrainer(config, parts)) {
      SftResult r = trainer.run();
      LOG.info("demo: SFT done: held-out loss {} per token", String.format("%.3f", r.evalLoss()));
      return r;
    }
  }

  private RmResult rewardModel(Path data) throws IOException {
    int batch = 32;
    RmRunConfig config = RmRunConfig.loader().load(List.of(
        "run.out=" + out.resolve("rm"), "run.seed=" + options.seed(), "model.path=" + out.resolve("sft"),
        "data.prompts=" + data.resolve("pairs.jsonl"), "data.eval_fraction=0.1",
        "data.max_prompt_tokens=" + MAX_PROMPT_TOKENS, "rm.max_seq_len=" + CONTEXT, "rm.epochs=" + scale.rmEpochs(),
        "rm.batch_size=" + batch, "rm.micro_batch_size=" + batch, "rm.decay=cosine", "optim.lr=" + scale.rmLr(),
        "optim.max_grad_norm=1.0", options.dtypeKey()));
    try (RmParts parts = RmParts.load(config); RewardModelTrainer trainer = new RewardModelTrainer(config, parts)) {
      RmResult r = trainer.run();
      LOG.info("demo: reward model done: held-out pairwise accuracy {}", String.format("%.3f", r.evalAccuracy()));
      return r;
    }
  }

  /**
   * Runs the RL stage; returns the gold judges' curve on a few held-out prompts every tenth of
   * the run. Every algorithm sees the same samples per iteration (rollout_batch prompts x its
   * num_samples = the scale's rollout batch), takes the same optimizer steps on them (the
   * scale's epochs over its minibatches: a critic-free preset's single epoch would give it a
   * quarter of PPO's updates) and the same KL weight (in the reward or in the loss, as its
   * preset places it; DAPO has none).
   */
  private List<Map<String, Double>> rl(String algo, Path data) throws IOException {
    int iterations = scale.ppoIterations();
    String preset = options.ppoPreset(algo);
    PpoPreset presetSection = PpoPreset.valueOf(preset.toUpperCase(Locale.ROOT));
    int prompts = Math.max(1, scale.rolloutBatch() / presetSection.numSamples());
    List<String> set = new ArrayList<>(List.of(
        "run.out=" + out.resolve(algo), "run.seed=" + options.seed(), "model.path=" + out.resolve("sft"),
        "data.prompts=" + data.resolve("prompts.jsonl"),
        "data.eval_prompts=" + data.resolve("eval_prompts.jsonl"), "data.max_prompt_tokens=" + MAX_PROMPT_TOKENS,
        "generation.max_new_tokens=" + MAX_NEW_TOKENS, "ppo.preset=" + preset,
        "ppo.kl_coef=" + scale.klCoef(), "ppo.ppo_epochs=" + scale.ppoEpochs(),
        "ppo.minibatch_size=" + scale.minibatch(),
        "ppo.micro_batch_size=" + scale.minibatch(), "optim.lr=" + scale.ppoLr(), "schedule.iterations=" + iterations,
        "schedule.rollout_batch=" + prompts, "schedule.eval_prompts=0",  // the gold curve evaluates
        "schedule.checkpoint_every=" + Math.max(1, iterations / 2),
        "schedule.keep_checkpoints=1", options.dtypeKey()));
    if (PpoRunConfig.loader().defaults(List.of("ppo.preset=" + preset)).ppo().klIn() == AlgoOptions.KlIn.LOSS) {
      set.add("ppo.kl_loss_coef=" + scale.klCoef());
    }
    if (options.reward().equals("gold")) {
      set.addAll(List.of("reward.kind=function", "reward.function=" + GoldReward.class.getName()));
    } else {
      set.addAll(List.of("reward.kind=model", "reward.model_path=" + out.resolve("rm")));
    }
    PpoRunConfig config = PpoRunConfig.loader().load(set);
    List<Map<String, Double>> curve = new ArrayList<>();
    try (PpoTrainer trainer = new PpoTrainer(config, PpoSetup.load(config))) {
      curve.add(goldPoint(trainer, 0));
      trainer.addListener(it -> {
        if (it.iteration() % Math.max(1, iterations / 10) == 0) curve.add(goldPoint(trainer, it.iteration()));
      });
      trainer.run();
    }
    return curve;
  }

  /** The judges of the curve on the DPO policy as it is: its samples on the curve's held-out prompts. */
  private Map<String, Double> curvePoint(Model policy) {
    GoldEval.Result r;
    try (Model reference = load(out.resolve("sft"), c -> c.withValueHead(false)); Model rewardModel = loadRewardModel()) {
      r = GoldEval.evaluate(policy, reference, rewardModel, tokenizer, task, List.copyOf(curveOpenings.values()),
          MAX_NEW_TOKENS, options.seed() + 1, 64);
    }
    Map<String, Double> p = new LinkedHashMap<>();
    p.put("gold", r.gold());
    p.put("positive_share", r.positiveShare());
    p.put("validity", r.validity());
    p.put("rm_score", r.rmScore());
    p.put("kl", r.kl());
    return p;
  }

  /**
   * Gold reward and validity of the current policy on the curve's held-out prompts; the judges
   * read each prompt's opening, not its rendering by the chat template.
   */
  private Map<String, Double> goldPoint(PpoTrainer trainer, long iteration) {
    var eval = trainer.evaluate(trainer.parts().prompts().eval());
    double gold = 0, positive = 0, valid = 0;
    for (var s : eval.samples()) {
      String response = DemoVocabulary.words(tokenizer, s.responseTokens());
      String opening = curveOpenings.get(s.prompt());
      if (opening == null) throw new IllegalStateException("demo: not a held-out prompt of the curve: " + s.prompt());
      gold += task.goldReward(opening, response);
      positive += task.positive(opening, response) ? 1 : 0;
      valid += task.valid(opening, response) ? 1 : 0;
    }
    int n = eval.samples().size();
    Map<String, Double> point = new LinkedHashMap<>();
    point.put("iteration", (double) iteration);
    point.put("gold", gold / n);
    point.put("positive_share", positive / n);
    point.put("validity", valid / n);
    point.put("rm_score", eval.metrics().get("eval/scores"));
    point.put("kl", eval.metrics().get("eval/kl"));
    return point;
  }

  private Model load(Path dir, java.util.function.UnaryOperator<ModelConfig> adjust) {
    return Checkpoint.open(ModelDirs.resolve(dir))
        .loadModel("cpu", c -> adjust.apply(c).withDtype(options.dtype().dtype()), LoadOptions.allowHeadChanges())
        .model();
  }

  private static List<DemoSummary.Sample> samples(GoldEval.Result r) {
    return r.samples().stream().limit(8)
        .map(s -> new DemoSummary.Sample(s.prompt(), s.response(), s.gold(), s.valid(), s.rmScore())).toList();
  }
}
