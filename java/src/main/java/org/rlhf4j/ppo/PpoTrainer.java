package org.rlhf4j.ppo;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.train.Distributed;
import org.rlhf4j.train.NonFinitePolicy;
import org.rlhf4j.train.TrainingLoop;

/**
 * PPO for language models (Ziegler et al. 2019; Ouyang et al. 2022) and the critic-free
 * algorithms that share its phases (GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE++: the estimator and
 * the loss are switches of ppo.*): the training loop. One iteration has three phases:
 *
 * <ol>
 *   <li><b>Sampling.</b> The old policy generates generation.num_samples responses per prompt (a
 *       group), recording each token's log-prob and the critic's value in the same pass. With
 *       ppo.dynamic_sampling, groups whose scores are all equal are dropped and more prompts are
 *       drawn until the batch is full (at most ppo.max_resample_batches more rounds).
 *   <li><b>Feedback.</b> The frozen reference gives log-probs, the reward model (or a Java
 *       function) scores prompt + response; each token's reward is -kl_coef * KL, the score is
 *       added on the last token; then returns and advantages.
 *   <li><b>Learning.</b> ppo_epochs passes over shuffled minibatches of the rollout, each an
 *       optimizer step on pg_loss + vf_coef * vf_loss (gradients accumulated over micro-batches).
 * </ol>
 *
 * The tensor work runs natively; the rollout stays in native memory between the phases. Every
 * random draw derives from (run.seed, iteration, epoch) and each sample's from (run.seed,
 * iteration, its index in the global batch), so resuming from a checkpoint continues bit for
 * bit as a straight run would on the same machine.
 *
 * <p>Data parallelism ({@link Distributed#current()}): schedule.rollout_batch is global; each
 * rank samples and learns on its contiguous share of the batch's prompts (a prompt's group stays
 * on one rank), gradients are averaged over ranks at each optimizer step, and every decision
 * (score moments, adaptive KL, early stop, dynamic sampling's stop, a non-finite skip) is taken
 * from all ranks' data. Rank 0 alone writes files.
 *
 * <p>The phases are {@link PpoSampling}, {@link PpoFeedback} and {@link PpoLearning}, the line's
 * assembly {@link IterationMetrics}; the run around them (metrics.jsonl, progress, stop request,
 * time budget, eval and checkpoint cadence, resume) is the {@link TrainingLoop}'s.
 *
 * <p>Not thread-safe: one thread calls {@link #step()} or {@link #run()}; listeners are called
 * on that thread. {@link #close()} frees the models, optimizers and rollouts.
 */
public final class PpoTrainer implements AutoCloseable {
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

    /** As above, with each weighted reward function's value per sample (empty without reward.functions). */
    default void onRollout(long iteration, List<Prompt> prompts, Rollout rollout, Map<String, float[]> rewardTerms) {
      onRollout(iteration, prompts, rollout);
    }

    /** As above, with each sample's episode when the run has an agent (else null). */
    default void onRollout(long iteration, List<Prompt> prompts, Rollout rollout, Map<String, float[]> rewardTerms,
        List<Episode> episodes) {
      onRollout(iteration, prompts, rollout, rewardTerms);
    }
  }

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoSampling sampling;
  private final PpoFeedback feedback;
  private final PpoLearning learning;
  private final PpoEvaluation evaluation;
  private final NonFinitePolicy nonFinite;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final List<RolloutObserver> rolloutObservers = new CopyOnWriteArrayList<>();
  private final Distributed dist = Distributed.current();
  private final TrainingLoop loop;
  private long iteration;
  private long skippedIterations;
  private double elapsedSeconds;
  private Iteration last;

  /**
   * A trainer over parts (which it now owns), starting at iteration 0, or continuing from the
   * newest complete checkpoint in run.out when run.resume is set and there is one.
   */
  public PpoTrainer(PpoRunConfig config, PpoParts parts) {
    this.config = config;
    this.parts = parts;
    if (config.algoOptions().estimator().usesCritic() && parts.critic() == null
        && !parts.policy().config().valueHead()) {
      throw new IllegalArgumentException("ppo: estimator gae needs a critic: the policy has no value head and there "
          + "is no separate critic");
    }
    this.sampling = new PpoSampling(config, parts);
    this.learning = new PpoLearning(config, parts);
    this.feedback = new PpoFeedback(config, parts);
    this.evaluation = new PpoEvaluation(config, parts, sampling);
    this.nonFinite = new NonFinitePolicy(config.run().onNonfinite());
    if (config.schedule().rolloutBatch() < dist.worldSize()) {
      throw new IllegalArgumentException("schedule.rollout_batch (" + config.schedule().rolloutBatch()
          + ") is global and must be at least the number of ranks (" + dist.worldSize() + ")");
    }
    this.loop = new TrainingLoop(new Run(), config.run());
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
    return feedback.klCoef();
  }

  public PpoParts parts() {
    return parts;
  }

  /**
   * Asks {@link #run()} to stop: the iteration in progress is abandoned at the end of its
   * sampling or feedback phase (or ends after its learning phase), and the run checkpoints the
   * last complete iteration, from which run.resume continues as if never stopped. Callable from
   * any thread, e.g. a job service cancelling the run.
   */
  public void requestStop() {
    loop.requestStop();
  }

  /**
   * Runs one iteration and returns its metrics, or null when a stop was requested before its
   * learning phase: then nothing of it is kept (prompt order and score moments are put back).
   */
  public Iteration step() {
    final long it = iteration + 1;
    final long start = System.nanoTime();
    final double allreduceBefore = dist.allreduceSeconds();
    final double optimizerBefore = learning.optimizerSeconds();
    Map<String, Double> metrics = new LinkedHashMap<>();
    Rewind rewind = new Rewind(parts.prompts(), feedback.scoreMoments());

    // 1. Sampling: groups of responses, old_logprobs and old_values from the old policy, and their scores.
    PpoSampling.Batch batch = sampling.sample(it, metrics);
    try (Rollout rollout = batch.rollout()) {
      final long sampled = System.nanoTime();
      if (loop.stopPending()) return rewind.abandon();

      // 2. Feedback: with a rollout correction (or its metrics), the learner's old log-probs and the
      // correction's weights; reference log-probs, per-token rewards, returns and advantages.
      RolloutMismatch.apply(config.ppo(), parts.policy(), config.ppoOptions().temperature(), rollout, metrics, dist);
      PpoFeedback.Result fb = feedback.run(batch, metrics);
      if (fb.skip() != null) return skipIteration(it, fb.skip(), metrics, start);
      if (loop.stopPending()) return rewind.abandon();
      if (dist.isMain()) {
        for (RolloutObserver o : rolloutObservers) {
          o.onRollout(it, batch.prompts(), rollout, batch.scores().terms(), batch.episodes());
        }
      }

      // 3. Learning: epochs of shuffled minibatches, one optimizer step each.
      LossAggregate losses = new LossAggregate();
      int epochs = learning.learn(rollout, batch.firstRow(), it, losses);
      final long learned = System.nanoTime();

      double klCoef = feedback.adaptKl(fb.rewards());
      iteration = it;
      elapsedSeconds += (learned - start) / 1e9;
      IterationMetrics.put(metrics, fb.rewards(), fb.advantages(), klCoef,
          new IterationMetrics.Learning(losses, epochs, learning.lastLr(), learning.skippedSteps(), skippedIterations,
              learning.optimizerSeconds() - optimizerBefore),
          new IterationMetrics.Times(start, sampled, fb.referenced(), learned, batch.scoringSeconds(), rollout.batch()),
          dist.allreduceSeconds() - allreduceBefore, dist);
      return new Iteration(it, IterationMetrics.meanOverRanks(metrics, dist), batch.samples(SAMPLES_KEPT));
    }
  }

  private Iteration skipIteration(long it, String why, Map<String, Double> metrics, long start) {
    nonFinite.skipped("iteration " + it + ": " + why, "the iteration was skipped");
    skippedIterations++;
    iteration = it;
    elapsedSeconds += (System.nanoTime() - start) / 1e9;
    IterationMetrics.nonFinite(metrics, learning.skippedSteps(), skippedIterations);
    return new Iteration(it, IterationMetrics.meanOverRanks(metrics, dist), List.of());
  }

  /**
   * Generates for prompts with the run's sampling settings and a fixed seed (so evaluations are
   * comparable across iterations), scores them and measures their KL to the reference.
   */
  public PpoEvaluation.EvalResult evaluate(List<Prompt> prompts) {
    return evaluation.evaluate(prompts);
  }

  /** The first schedule.eval_prompts held-out prompts. */
  public List<Prompt> evalPrompts() {
    return evaluation.evalPrompts();
  }

  /**
   * Runs iterations until schedule.iterations (or the time budget), writing metrics.jsonl,
   * evaluating every eval_every iterations and checkpointing every checkpoint_every and at the
   * end, or after the iteration in progress when {@link #requestStop()} is called. Returns the
   * last iteration's record (null when none ran). In a data-parallel job only rank 0 writes.
   */
  public Iteration run() {
    last = null;
    loop.run();
    return last;
  }

  /**
   * Writes a checkpoint of the current iteration into run.out/checkpoints; returns its path. In a
   * data-parallel job every rank calls it: the ranks first check that their weights are still
   * bitwise equal, then rank 0 alone writes.
   */
  public Path saveCheckpoint() {
    return loop.saveCheckpoint();
  }

  /** The trainer state a checkpoint records. */
  public PpoState state() {
    RunningMoments m = feedback.scoreMoments();
    return new PpoState(iteration, learning.optimizerSteps(), feedback.klCoef(), m.mean(), m.var(), m.count(),
        parts.prompts().cursor(), learning.skippedSteps(), skippedIterations, config.run().seed(), elapsedSeconds);
  }

  /** The trainer as the {@link TrainingLoop} drives it: its iterations, evaluation and checkpoints. */
  private final class Run extends PpoRun {
    Run() {
      super(config, parts);
    }

    @Override
    public long position() {
      return iteration;
    }

    @Override
    public Map<String, Double> step() {
      Iteration done = PpoTrainer.this.step();
      if (done == null) return null;
      last = done;
      return last.metrics();
    }

    @Override
    public Map<String, Double> evaluate() {
      return evaluation.evaluate(evaluation.evalPrompts()).metrics();
    }

    @Override
    public CheckpointWriter checkpoint(boolean complete) {
      return PpoCheckpoint.writer(parts, learning, state());
    }

    @Override
    public void restore(Checkpoint c, JsonNode json, Path dir) {
      PpoState st = PpoCheckpoint.restore(c, json, dir, parts, learning, feedback);
      iteration = st.iteration();
      skippedIterations = st.skippedIterations();
      elapsedSeconds = st.elapsedSeconds();
    }

    @Override
    public void finished(long position, Map<String, Double> metrics) {
      for (Listener l : listeners) l.onIteration(last);
    }
  }

  @Override
  public void close() {
    learning.close();
    parts.close();
  }
}
