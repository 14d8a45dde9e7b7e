package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.LrSchedule;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RunSection.OnNonFinite;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoOptions;
import org.rlhf4j.engine.PpoResults.AdvantageStats;
import org.rlhf4j.engine.PpoResults.LossStats;
import org.rlhf4j.engine.PpoResults.RewardStats;
import org.rlhf4j.engine.PpoResults.StepResult;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Progress;
import org.rlhf4j.train.NonFiniteException;
import org.rlhf4j.train.Seeds;
import org.rlhf4j.train.TokenizerFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PPO for language models (Ziegler et al. 2019; Ouyang et al. 2022): the training loop. One
 * iteration has three phases:
 *
 * <ol>
 *   <li><b>Sampling.</b> The old policy generates a response per prompt, recording each token's
 *       log-prob and the critic's value in the same pass.
 *   <li><b>Feedback.</b> The frozen reference gives log-probs, the reward model (or a Java
 *       function) scores prompt + response; each token's reward is -kl_coef * KL, the score is
 *       added on the last token; then returns and advantages.
 *   <li><b>Learning.</b> ppo_epochs passes over shuffled minibatches of the rollout, each an
 *       optimizer step on pg_loss + vf_coef * vf_loss (gradients accumulated over micro-batches).
 * </ol>
 *
 * The tensor work runs natively; the rollout stays in native memory between the phases. Every
 * random draw derives from (run.seed, iteration, epoch), so resuming from a checkpoint continues
 * bit for bit as a straight run would on the same machine.
 *
 * <p>Not thread-safe: one thread calls {@link #step()} or {@link #run()}; listeners are called
 * on that thread. {@link #close()} frees the models, optimizers and rollouts.
 */
public final class PpoTrainer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PpoTrainer.class);
  private static final int SAMPLES_KEPT = 4;

  /** One finished iteration: its metrics (TRL's names) and a few decoded samples. */
  public record Iteration(long iteration, Map<String, Double> metrics, List<Sample> samples) {}

  /** A prompt, the policy's response and its score. */
  public record Sample(String prompt, String response, double score) {}

  /** Called after every iteration (with eval metrics merged in when it evaluated). */
  @FunctionalInterface
  public interface Listener {
    void onIteration(Iteration iteration);
  }

  /**
   * Sees each rollout once its feedback is complete (rewards, returns and advantages computed)
   * and before learning starts, e.g. to dump it. Must not change it.
   */
  @FunctionalInterface
  public interface RolloutObserver {
    void onRollout(long iteration, List<Prompt> prompts, Rollout rollout);
  }

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoOptions options;
  private final LrSchedule lr;
  private final GenerateOptions generation;
  private final Optimizer policyOptimizer;
  private final Optimizer criticOptimizer;
  private final KlController kl;
  private final RunningMoments scoreMoments = new RunningMoments();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final List<RolloutObserver> rolloutObservers = new CopyOnWriteArrayList<>();
  private long iteration;
  private long optimizerSteps;
  private long skippedSteps;
  private long skippedIterations;
  private double elapsedSeconds;

  /**
   * A trainer over parts (which it now owns), starting at iteration 0, or continuing from the
   * newest complete checkpoint in run.out when run.resume is set and there is one.
   */
  public PpoTrainer(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    this.options = config.ppoOptions();
    this.lr = config.lrSchedule();
    this.generation = generationOptions(config, parts);
    var o = config.optim();
    var adamw = new Optimizer.AdamW(o.beta1(), o.beta2(), o.eps(), o.weightDecay(), o.maxGradNorm());
    this.policyOptimizer = Optimizer.create(parts.policy(), adamw);
    this.criticOptimizer = parts.critic() == null ? null : Optimizer.create(parts.critic(), adamw);
    var p = config.ppo();
    this.kl = p.adaptiveKl() ? new KlController.Adaptive(p.klCoef(), p.klTarget(), p.klHorizon())
        : new KlController.Fixed(p.klCoef());
    if (config.run().resume()) checkpoints().latest().ifPresent(this::restore);
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
    int pad = tok.padId() >= 0 ? tok.padId() : Math.max(tok.eosId(), 0);
    return new GenerateOptions(g.maxNewTokens(), g.temperature(), g.topK(), g.topP(), tok.eosId(), stop, pad,
        0, parts.critic() == null);
  }

  public void addListener(Listener listener) {
    listeners.add(listener);
  }

  public void addRolloutObserver(RolloutObserver observer) {
    rolloutObservers.add(observer);
  }

  public PpoRunConfig config() {
    return config;
  }

  /** Iterations completed so far (including those before a resume). */
  public long iteration() {
    return iteration;
  }

  /** The current KL coefficient. */
  public double klCoef() {
    return kl.value();
  }

  public PpoParts parts() {
    return parts;
  }

  /** Runs one PPO iteration and returns its metrics. */
  public Iteration step() {
    final long it = iteration + 1;
    final long start = System.nanoTime();
    final int m = config.schedule().rolloutBatch();
    List<Prompt> prompts = parts.prompts().next(m);
    Map<String, Double> metrics = new LinkedHashMap<>();

    // 1. Sampling: responses, old_logprobs and old_values from the old policy.
    try (Rollout rollout = parts.policy().generate(tokens(prompts), generation.withSeed(Seeds.mix(seed(), it)))) {
      if (parts.critic() != null) rollout.scorePolicy(parts.critic(), 1.0, Rollout.VALUES);
      final long sampled = System.nanoTime();

      // 2. Feedback: reference log-probs, scores, per-token rewards, returns and advantages.
      boolean fullKl = options.klEstimator() == PpoOptions.KlEstimator.FULL;
      parts.scoreReference(rollout, fullKl, options.temperature());
      final long referenced = System.nanoTime();
      List<String> responses = decodeResponses(rollout);
      float[] scores = score(rollout, prompts, responses);
      final long scored = System.nanoTime();
      metrics.put("objective/scores_raw", mean(scores));
      if (!allFinite(scores)) return skipIteration(it, "a score is NaN or Inf", metrics, start);
      double shift = 0, scale = 1;
      if (config.reward().scoreNorm()) {
        scoreMoments.update(scores);
        shift = scoreMoments.mean();
        scale = scoreMoments.std();
      }
      RewardStats rs = rollout.rewards(options, kl.value(), shift, scale);
      if (rs.nonFinite()) return skipIteration(it, "a per-token reward is NaN or Inf", metrics, start);
      AdvantageStats as = rollout.advantages(options);
      if (as.nonFinite()) return skipIteration(it, "an advantage or return is NaN or Inf", metrics, start);
      for (RolloutObserver o : rolloutObservers) o.onRollout(it, prompts, rollout);

      // 3. Learning: epochs of shuffled minibatches, one optimizer step each.
      LossAggregate losses = new LossAggregate();
      int epochsDone = learn(rollout, it, losses);
      final long learned = System.nanoTime();

      double klBefore = kl.value();
      kl.update(rs.kl(), m);
      iteration = it;
      elapsedSeconds += (learned - start) / 1e9;

      metrics.put("objective/kl", rs.kl());
      metrics.put("objective/kl_coef", klBefore);
      metrics.put("objective/entropy", rs.entropy());
      metrics.put("objective/scores", rs.scores());
      metrics.put("objective/non_score_reward", rs.nonScoreReward());
      metrics.put("objective/rlhf_reward", rs.rlhfReward());
      metrics.putAll(losses.metrics());
      metrics.put("val/var_explained", as.varExplained());
      metrics.put("returns/mean", as.returnsMean());
      metrics.put("returns/var", as.returnsVar());
      metrics.put("advantages/mean", as.advantagesMean());
      metrics.put("response_length/mean", rs.responseLength());
      metrics.put("response_length/eos_rate", rs.eosRate());
      metrics.put("lr", lr.lr(Math.max(0, optimizerSteps - 1)));
      metrics.put("ppo/epochs", (double) epochsDone);
      metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
      metrics.put("nonfinite/skipped_iterations", (double) skippedIterations);
      metrics.put("time/rollout", (sampled - start) / 1e9);
      metrics.put("time/ref", (referenced - sampled) / 1e9);
      metrics.put("time/reward", (scored - referenced) / 1e9);
      metrics.put("time/learn", (learned - scored) / 1e9);
      metrics.put("tokens_per_s", rs.responseLength() * m / ((learned - start) / 1e9));
      return new Iteration(it, metrics, samples(prompts, responses, scores));
    }
  }

  /** The learning phase; returns the epochs run (fewer when approx KL passed ppo.target_kl). */
  private int learn(Rollout rollout, long it, LossAggregate losses) {
    var p = config.ppo();
    int m = config.schedule().rolloutBatch();
    for (int epoch = 0; epoch < p.ppoEpochs(); epoch++) {
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < m; i++) order.add(i);
      Collections.shuffle(order, new Random(Seeds.mix(seed(), it, epoch)));
      for (int start = 0; start < m; start += p.minibatchSize()) {
        boolean finite = true;
        for (int micro = start; micro < start + p.minibatchSize(); micro += p.microBatchSize()) {
          long[] idx = order.subList(micro, micro + p.microBatchSize()).stream().mapToLong(Integer::longValue).toArray();
          Engine.manualSeed(Seeds.mix(seed(), optimizerSteps, micro));  // dropout, when the model has any
          LossStats s = rollout.accumulate(parts.policy(), parts.critic(), idx, options,
              (double) p.microBatchSize() / p.minibatchSize());
          if (s.nonFinite()) {
            finite = false;
            break;
          }
          losses.add(s);
        }
        if (!finite) {
          skipStep("the loss is NaN or Inf");
          continue;
        }
        optimizerStep();
      }
      double approxKl = losses.endEpoch();
      if (p.targetKl() != null && approxKl > p.targetKl()) {
        LOG.info("iteration {}: approx KL {} passed ppo.target_kl {} after epoch {}; stopping its epochs early",
            it, String.format("%.4f", approxKl), p.targetKl(), epoch + 1);
        return epoch + 1;
      }
    }
    return p.ppoEpochs();
  }

  private void optimizerStep() {
    double rate = lr.lr(optimizerSteps);
    StepResult policyStep = policyOptimizer.step(rate);
    StepResult criticStep = criticOptimizer == null ? null : criticOptimizer.step(rate);
    optimizerSteps++;
    if (policyStep.skipped() || (criticStep != null && criticStep.skipped())) {
      noteNonFinite("optimizer step " + optimizerSteps + ": the gradients are NaN or Inf; the step was skipped");
      skippedSteps++;
    }
  }

  private void skipStep(String why) {
    policyOptimizer.zeroGrad();
    if (criticOptimizer != null) criticOptimizer.zeroGrad();
    optimizerSteps++;
    skippedSteps++;
    noteNonFinite("optimizer step " + optimizerSteps + ": " + why + "; the step was skipped");
  }

  private Iteration skipIteration(long it, String why, Map<String, Double> metrics, long start) {
    noteNonFinite("iteration " + it + ": " + why + "; the iteration was skipped");
    skippedIterations++;
    iteration = it;
    elapsedSeconds += (System.nanoTime() - start) / 1e9;
    metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
    metrics.put("nonfinite/skipped_iterations", (double) skippedIterations);
    return new Iteration(it, metrics, List.of());
  }

  private void noteNonFinite(String what) {
    if (config.run().onNonfinite() == OnNonFinite.STOP) {
      throw new NonFiniteException(what.replace("; the step was skipped", "").replace(
          "; the iteration was skipped", "") + " (run.on_nonfinite is stop)");
    }
    LOG.warn(what);
  }

  private long seed() {
    return config.run().seed();
  }

  private static List<int[]> tokens(List<Prompt> prompts) {
    List<int[]> out = new ArrayList<>(prompts.size());
    for (Prompt p : prompts) out.add(p.tokens());
    return out;
  }

  private List<String> decodeResponses(Rollout rollout) {
    List<String> out = new ArrayList<>();
    for (int[] r : rollout.responses()) out.add(parts.tokenizer().decode(r, true));
    return out;
  }

  private float[] score(Rollout rollout, List<Prompt> prompts, List<String> responses) {
    return RewardScores.score(rollout, parts.rewardModel(), parts.rewardFunction(),
        prompts.stream().map(Prompt::text).toList(), responses, prompts.stream().map(Prompt::fields).toList());
  }

  private static List<Sample> samples(List<Prompt> prompts, List<String> responses, float[] scores) {
    List<Sample> out = new ArrayList<>();
    for (int i = 0; i < Math.min(SAMPLES_KEPT, prompts.size()); i++) {
      out.add(new Sample(prompts.get(i).text(), responses.get(i), scores[i]));
    }
    return out;
  }

  private static boolean allFinite(float[] xs) {
    for (float x : xs) if (!Float.isFinite(x)) return false;
    return true;
  }

  private static double mean(float[] xs) {
    double s = 0;
    for (float x : xs) s += x;
    return xs.length == 0 ? 0 : s / xs.length;
  }

  // ---- Evaluation --------------------------------------------------------------------------

  /** A held-out sample: the response, its score and its KL to the reference (summed k1). */
  public record EvalSample(String prompt, String response, int[] responseTokens, double score, double kl) {}

  /** Held-out evaluation: per-sample results and their means under eval/* names. */
  public record EvalResult(List<EvalSample> samples, Map<String, Double> metrics) {}

  /**
   * Generates for prompts with the run's sampling settings and a fixed seed (so evaluations are
   * comparable across iterations), scores them and measures their KL to the reference.
   */
  public EvalResult evaluate(List<Prompt> prompts) {
    List<EvalSample> out = new ArrayList<>();
    int batch = config.schedule().rolloutBatch();
    for (int from = 0; from < prompts.size(); from += batch) {
      List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + batch));
      try (Rollout r = parts.policy().generate(tokens(chunk), generation.withSeed(Seeds.mix(seed(), -1, from))
          .withValues(false))) {
        parts.scoreReference(r, false, options.temperature());
        List<String> responses = decodeResponses(r);
        float[] scores = score(r, chunk, responses);
        double[] old = r.sumOverResponse(RolloutField.OLD_LOGPROBS), ref = r.sumOverResponse(RolloutField.REF_LOGPROBS);
        List<int[]> tokens = r.responses();
        for (int i = 0; i < chunk.size(); i++) {
          out.add(new EvalSample(chunk.get(i).text(), responses.get(i), tokens.get(i), scores[i], old[i] - ref[i]));
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/scores", out.stream().mapToDouble(EvalSample::score).average().orElse(0));
    m.put("eval/kl", out.stream().mapToDouble(EvalSample::kl).average().orElse(0));
    m.put("eval/response_length", out.stream().mapToDouble(s -> s.responseTokens().length).average().orElse(0));
    return new EvalResult(out, m);
  }

  /** The first schedule.eval_prompts held-out prompts. */
  public List<Prompt> evalPrompts() {
    List<Prompt> eval = parts.prompts().eval();
    return eval.subList(0, Math.min(eval.size(), config.schedule().evalPrompts()));
  }

  // ---- The whole run ------------------------------------------------------------------------

  /**
   * Runs iterations until schedule.iterations (or the time budget), writing metrics.jsonl,
   * evaluating every eval_every iterations and checkpointing every checkpoint_every and at the
   * end. Returns the last iteration's record.
   */
  public Iteration run() {
    var s = config.schedule();
    Path out = config.run().out();
    try {
      Files.createDirectories(out);
      Path metricsFile = out.resolve(MetricsLog.FILE_NAME);
      long budgetStart = System.nanoTime();
      Iteration last = null;
      try (MetricsLog log = iteration == 0 ? MetricsLog.create(metricsFile) : MetricsLog.resume(metricsFile, iteration);
          Progress progress = Progress.start("ppo", iteration, s.iterations(), Progress.Mode.fromSystemProperty())) {
        while (iteration < s.iterations()) {
          if (s.timeBudget() != null && System.nanoTime() - budgetStart > s.timeBudget().toNanos()) {
            LOG.info("time budget {} spent after iteration {}; stopping", s.timeBudget(), iteration);
            break;
          }
          Iteration it = step();
          boolean lastIteration = it.iteration() == s.iterations();
          if (s.evalPrompts() > 0 && (it.iteration() % s.evalEvery() == 0 || lastIteration)) {
            it.metrics().putAll(evaluate(evalPrompts()).metrics());
          }
          log.append(it.iteration(), it.metrics());
          if (it.iteration() % s.checkpointEvery() == 0) saveCheckpoint();
          for (Listener l : listeners) l.onIteration(it);
          progress.stepTo(it.iteration());
          progress.metrics(progressMetrics(it.metrics()));
          last = it;
        }
      }
      if (iteration % s.checkpointEvery() != 0 || checkpoints().latest().isEmpty()) saveCheckpoint();
      return last;
    } catch (IOException e) {
      throw new UncheckedIOException("writing to " + out + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, Double> progressMetrics(Map<String, Double> m) {
    Map<String, Double> shown = new LinkedHashMap<>();
    for (String k : new String[] {"objective/scores", "objective/kl", "tokens_per_s"}) {
      if (m.containsKey(k)) shown.put(k.substring(k.indexOf('/') + 1), m.get(k));
    }
    return shown;
  }

  // ---- Checkpoints --------------------------------------------------------------------------

  private RunCheckpoints checkpoints() {
    int keep = config.schedule().keepCheckpoints();
    return new RunCheckpoints(config.run().out(), keep == 0 ? Integer.MAX_VALUE : keep);
  }

  /** Writes a checkpoint of the current iteration into run.out/checkpoints; returns its path. */
  public Path saveCheckpoint() {
    CheckpointWriter w = new CheckpointWriter()
        .model(parts.policy(), parts.policyConfig().withModel(parts.policy().config()))
        .optimizer("policy.", policyOptimizer)
        .trainerState(new ObjectMapper().valueToTree(state()));
    if (parts.critic() != null) {
      w.subModel("critic", parts.critic(), parts.policyConfig().withModel(parts.critic().config()));
      w.optimizer("critic.", criticOptimizer);
    }
    TokenizerFiles.copyInto(w, parts.tokenizerDir());
    Path saved = checkpoints().save(iteration, w);
    LOG.info("checkpoint {}", saved);
    return saved;
  }

  /** The trainer state a checkpoint records. */
  public PpoState state() {
    return new PpoState(iteration, optimizerSteps, kl.value(), scoreMoments.mean(), scoreMoments.var(),
        scoreMoments.count(), parts.prompts().cursor(), skippedSteps, skippedIterations, seed(), elapsedSeconds);
  }

  private void restore(Path dir) {
    Checkpoint c = Checkpoint.open(dir);
    JsonNode json = c.trainerState().orElseThrow(() -> new IllegalStateException(dir + ": no trainer_state.json"));
    PpoState st;
    try {
      st = new ObjectMapper().treeToValue(json, PpoState.class);
    } catch (IOException e) {
      throw new IllegalStateException(dir + "/trainer_state.json: " + e.getMessage(), e);
    }
    if (st.seed() != seed()) {
      throw new IllegalArgumentException("run.seed is " + seed() + " but the checkpoint " + dir
          + " was made with seed " + st.seed() + ": resume with the same seed");
    }
    c.loadWeights(parts.policy(), LoadOptions.strict());
    c.loadOptimizer(policyOptimizer, "policy.");
    if (parts.critic() != null) {
      c.subModel("critic").loadWeights(parts.critic(), LoadOptions.strict());
      c.loadOptimizer(criticOptimizer, "critic.");
    }
    parts.prompts().restore(st.promptCursor());
    kl.restore(st.klCoef());
    scoreMoments.restore(st.scoreMean(), st.scoreVar(), st.scoreCount());
    iteration = st.iteration();
    optimizerSteps = st.optimizerSteps();
    skippedSteps = st.skippedSteps();
    skippedIterations = st.skippedIterations();
    elapsedSeconds = st.elapsedSeconds();
    LOG.info("resumed from {} (iteration {})", dir, iteration);
  }

  @Override
  public void close() {
    policyOptimizer.close();
    if (criticOptimizer != null) criticOptimizer.close();
    parts.close();
  }
}
