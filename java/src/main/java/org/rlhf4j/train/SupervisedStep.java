package org.rlhf4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.LrSchedule;
import org.rlhf4j.config.OptimSection;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoResults.StepResult;
import org.rlhf4j.engine.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The step that SFT and reward-model training share, as a {@link Trainable}. Each epoch visits
 * the training examples once, shuffled with a seed of (run.seed, epoch) when data.shuffle is
 * on; each batch of batch_size examples (the last may be partial) is one AdamW step at the
 * schedule's learning rate, its gradient accumulated over micro-batches of micro_batch_size
 * (or cut by max_tokens_per_micro_batch),
 * clipped to optim.max_grad_norm. The held-out examples are evaluated at the end of every epoch.
 *
 * <p>Loss scale: a batch's loss is the weighted mean over its examples, the weights given by the
 * {@link Objective} (SFT: the example's target tokens, so every completion token of a batch
 * counts the same however the batch is cut into micro-batches, as transformers does since
 * 4.46; pairs: 1 each). A micro-batch's mean loss is scaled by its share of the batch's weight.
 *
 * <p>Data parallelism ({@link Distributed#current()}): batch_size is global; each rank takes a
 * contiguous share of every batch, the optimizer averages the ranks' gradients (so each rank's
 * micro-batch scale is multiplied by the world size), and losses, accuracies and skip decisions
 * are taken over all ranks. Every rank evaluates the whole held-out set.
 *
 * <p>A NaN or Inf loss or gradient skips its step (counted in nonfinite/skipped_steps) or
 * stops the run, per run.on_nonfinite.
 *
 * <p>Each step's metrics.jsonl line (the step is the line's iteration): train/loss (and
 * train/accuracy), lr, grad_norm, nonfinite/skipped_steps, epoch (fractional, as Hugging Face
 * counts it), and eval/loss (eval/accuracy) on an epoch's last step. Every save_steps steps, and
 * at the end, a checkpoint; one before the end has the optimizer state, from which run.resume
 * continues exactly: the data order of an epoch, the learning rate and the dropout streams
 * follow from (run.seed, step), so N/2 steps, a resume and N/2 more give the weights of N steps
 * straight.
 *
 * <p>Not thread-safe. Owns its optimizer, not the model; close it before the model.
 *
 * @param <E> an example: an SFT example, a preference pair
 */
public final class SupervisedStep<E> implements Trainable, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SupervisedStep.class);
  private static final List<Map.Entry<String, String>> SHOWN = List.of(Map.entry("train/loss", "loss"),
      Map.entry("train/accuracy", "acc"), Map.entry("eval/loss", "eval_loss"), Map.entry("eval/accuracy", "eval_acc"));

  /** What is trained: how examples weigh and how a micro-batch's loss is taken. */
  public interface Objective<E> {
    /** The example's weight in its batch's mean loss: its target tokens, or 1. */
    double weight(E example);

    /** The example's padded length for the token budget: its longest sequence (of a pair, the longer side). */
    int tokens(E example);

    /** Padded rows an example takes in a micro-batch: 1, or 2 for a pair (both sides in one pass). */
    int rowsPerExample();

    /**
     * The weighted mean loss over micro and its accuracy (NaN when the objective has none);
     * with backward, accumulates the gradient of scale * loss.
     *
     * @throws NativeException with status {@link Status#NON_FINITE} when the loss is NaN or Inf
     */
    Measure measure(List<E> micro, double scale, boolean backward);

    /** Its own metrics since the last call (DPO's rewards/*), then forgets them; overRanks: over all ranks'. */
    default Map<String, Double> drainMetrics(boolean overRanks) {
      return Map.of();
    }
  }

  /** A loss and an accuracy (NaN when there is none). */
  public record Measure(double loss, double accuracy) {}

  private final String section;
  private final Model model;
  private final Objective<E> objective;
  private final List<E> train;
  private final List<E> eval;
  private final TrainSection schedule;
  private final RunSection run;
  private final boolean shuffle;
  private final HfConfig modelConfig;
  private final Path tokenizerDir;
  private final LrSchedule lr;
  private final Optimizer optimizer;
  private final NonFinitePolicy nonFinite;
  private final Distributed dist = Distributed.current();
  private long steps;
  private long skippedSteps;
  /** The epoch's running mean so far, and the last evaluation: restored on resume. */
  private Weighted epochSoFar = new Weighted();
  private Measure lastEval = new Measure(Double.NaN, Double.NaN);
  private int orderEpoch = -1;
  private List<E> order;

  /**
   * @param section the name of schedule's section (sft, rm): the progress label, and in messages
   * @param parts the model, its data, and what its checkpoints record besides the weights
   * @param schedule the sft or rm section: epochs, batch sizes, warm-up and decay
   * @param shuffle data.shuffle
   * @throws ConfigException when the warm-up is not shorter than the run
   */
  public SupervisedStep(String section, SupervisedParts<E> parts, Objective<E> objective, TrainSection schedule,
      OptimSection optim, RunSection run, boolean shuffle) {
    this.train = List.copyOf(parts.data().train());
    long total = schedule.totalSteps(train.size());
    if (schedule.warmupSteps() > 0 && schedule.warmupSteps() >= total) {
      throw new ConfigException(section + ".warmup_steps (" + schedule.warmupSteps() + ") must be less than the "
          + total + " optimizer steps of the run (" + schedule.epochs() + " epochs of " + train.size() + " examples in "
          + "batches of " + schedule.batchSize() + ")");
    }
    this.section = section;
    this.model = parts.model();
    this.objective = objective;
    this.eval = List.copyOf(parts.data().eval());
    this.schedule = schedule;
    this.run = run;
    this.shuffle = shuffle;
    this.modelConfig = parts.modelConfig();
    this.tokenizerDir = parts.tokenizerDir();
    this.nonFinite = new NonFinitePolicy(run.onNonfinite());
    this.lr = schedule.lrSchedule(optim.lr(), total);
    this.optimizer = Optimizer.create(model, new Optimizer.AdamW(optim.beta1(), optim.beta2(), optim.eps(),
        optim.weightDecay(), optim.maxGradNorm()));
  }

  @Override
  public String label() {
    return section;
  }

  @Override
  public long position() {
    return steps;
  }

  @Override
  public long total() {
    return lr.totalSteps();
  }

  /** The weighted mean loss over the current epoch's steps so far (those not skipped). */
  public Measure epochSoFar() {
    return epochSoFar.measure();
  }

  /** The last evaluation; NaN before the first. */
  public Measure lastEval() {
    return lastEval;
  }

  public long skippedSteps() {
    return skippedSteps;
  }

  private long perEpoch() {
    return (train.size() + schedule.batchSize() - 1) / schedule.batchSize();
  }

  /**
   * The next batch of the epoch in progress (a resumed run continues its epoch where the
   * checkpoint left it), one optimizer step on it.
   */
  @Override
  public Map<String, Double> step() {
    int epoch = (int) (steps / perEpoch());
    if (epoch != orderEpoch) {
      order = new ArrayList<>(train);
      if (shuffle) Collections.shuffle(order, new Random(Seeds.mix(run.seed(), epoch)));
      orderEpoch = epoch;
    }
    int from = (int) (steps - epoch * perEpoch()) * schedule.batchSize();
    if (from == 0) epochSoFar = new Weighted();
    Map<String, Double> metrics = step(order.subList(from, Math.min(order.size(), from + schedule.batchSize())));
    metrics.put("epoch", (double) steps / perEpoch());
    return metrics;
  }

  /**
   * One optimizer step on the (global) batch, of which this rank takes its share; adds its loss
   * to the epoch's unless skipped. Returns its metrics.
   */
  private Map<String, Double> step(List<E> batch) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    double batchWeight = weight(batch);
    objective.drainMetrics(false);
    List<E> mine = batch.subList(dist.shareStart(batch.size()), dist.shareEnd(batch.size()));
    Weighted loss = new Weighted();
    model.setTraining(true);
    String nonFiniteLoss = null;
    try {
      int from = 0;
      for (List<E> micro : microBatches(mine)) {
        double w = weight(micro);
        // Dropout, when the model has any: a stream per rank and micro-batch position.
        Engine.manualSeed(Seeds.mix(run.seed(), steps, from + (long) dist.rank() * batch.size()));
        from += micro.size();
        loss.add(objective.measure(micro, w / batchWeight * dist.worldSize(), true), w);
      }
    } catch (NativeException e) {
      if (e.status() != Status.NON_FINITE) throw e;
      nonFiniteLoss = e.getMessage();
    }
    Map<String, Double> own = objective.drainMetrics(true);
    if (dist.any(nonFiniteLoss != null)) {  // every rank skips together
      optimizer.zeroGrad();
      steps++;
      skipped("the loss is NaN or Inf (" + (nonFiniteLoss != null ? nonFiniteLoss : "on another rank") + ")");
      metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
      return metrics;
    }
    loss = loss.overRanks(dist);
    double rate = lr.lr(steps);
    StepResult result = optimizer.step(rate);
    steps++;
    if (result.skipped()) {
      skipped("the gradients are NaN or Inf");
    } else {
      epochSoFar.add(loss.measure(), batchWeight);
    }
    metrics.put("train/loss", loss.loss());
    putAccuracy(metrics, "train/accuracy", loss.accuracy());
    metrics.put("lr", rate);
    metrics.put("grad_norm", result.gradNorm());
    metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
    metrics.putAll(own);
    return metrics;
  }

  private void skipped(String why) {
    skippedSteps++;
    nonFinite.skipped("optimizer step " + steps + ": " + why, "the step was skipped");
  }

  @Override
  public boolean evalDue(long position) {
    return !eval.isEmpty() && position % perEpoch() == 0;
  }

  @Override
  public Map<String, Double> evaluate() {
    objective.drainMetrics(false);
    lastEval = evaluate(eval);
    Map<String, Double> metrics = new LinkedHashMap<>();
    metrics.put("eval/loss", lastEval.loss());
    putAccuracy(metrics, "eval/accuracy", lastEval.accuracy());
    objective.drainMetrics(false).forEach((k, v) -> metrics.put("eval/" + k, v));
    return metrics;
  }

  /**
   * The weighted mean loss (and accuracy) over examples, in micro-batches, without gradient and
   * with dropout off; NaN when a loss is NaN or Inf.
   */
  public Measure evaluate(List<E> examples) {
    Weighted total = new Weighted();
    model.setTraining(false);
    try {
      for (List<E> micro : microBatches(examples)) total.add(objective.measure(micro, 1.0, false), weight(micro));
    } catch (NativeException e) {
      if (e.status() != Status.NON_FINITE) throw e;
      LOG.warn("evaluation after optimizer step {}: the loss is NaN or Inf ({})", steps, e.getMessage());
      return new Measure(Double.NaN, Double.NaN);
    }
    return total.measure();
  }

  @Override
  public void finished(long position, Map<String, Double> metrics) {
    if (position % perEpoch() != 0) return;
    LOG.info("{} epoch {}/{}: train loss {}{}", section, position / perEpoch(), schedule.epochs(),
        String.format(Locale.ROOT, "%.4f", epochSoFar.loss()),
        eval.isEmpty() ? "" : String.format(Locale.ROOT, ", eval loss %.4f", lastEval.loss()));
  }

  @Override
  public void ended() {
    model.setTraining(false);
  }

  /** Every save_steps steps before the end (the end always gets one). */
  @Override
  public boolean checkpointDue(long position) {
    return schedule.saveSteps() > 0 && position % schedule.saveSteps() == 0 && position < total();
  }

  @Override
  public int keepCheckpoints() {
    return 1;
  }

  @Override
  public Map<String, Model> models() {
    return Map.of(section, model);
  }

  /**
   * The model with config.json (the starting model's config with the model's heads), the
   * tokenizer files, and trainer_state.json; a checkpoint before the end also gets its
   * optimizer.safetensors, which a resume needs (a finished run's model is kept without it, as
   * the model is all that is used from it).
   */
  @Override
  public CheckpointWriter checkpoint(boolean complete) {
    ObjectNode state = JsonNodeFactory.instance.objectNode()
        .put("global_step", steps)
        .put("max_steps", total())
        .put("epoch", (double) steps / perEpoch())
        .put("train_batch_size", schedule.batchSize())
        .put("seed", run.seed())
        .put("skipped_steps", skippedSteps);
    // JSON has no NaN: a metric that was not measured is left out.
    putFinite(state, "train_loss", epochSoFar.loss());
    putFinite(state, "eval_loss", lastEval.loss());
    putFinite(state, "eval_accuracy", lastEval.accuracy());
    // The running sums of the epoch in progress, so a resumed run's train_loss is the same.
    putFinite(state, "epoch_loss_sum", epochSoFar.loss);
    putFinite(state, "epoch_accuracy_sum", epochSoFar.accuracy);
    state.put("epoch_weight", epochSoFar.weight);
    CheckpointWriter w = new CheckpointWriter()
        .model(model, modelConfig.withModel(model.config()))
        .trainerState(state);
    if (!complete) w.optimizer("", optimizer);
    TokenizerFiles.copyInto(w, tokenizerDir);
    return w;
  }

  /** Continues from the checkpoint: weights, optimizer state, step counters, the epoch's sums. */
  @Override
  public void restore(Checkpoint c, JsonNode st, Path dir) {
    long at = st.path("global_step").asLong(-1);
    if (st.path("max_steps").asLong() != total() || st.path("train_batch_size").asInt() != schedule.batchSize()
        || at < 0 || at > total()) {
      throw new IllegalArgumentException(section + ": the checkpoint " + dir + " is of a run of "
          + st.path("max_steps").asLong() + " steps in batches of " + st.path("train_batch_size").asInt()
          + ", this one has " + total() + " in batches of " + schedule.batchSize()
          + ": resume with the same data and " + section + " section");
    }
    c.loadWeights(model, LoadOptions.strict());
    if (at > 0 && at < total()) c.loadOptimizer(optimizer, "");
    steps = at;
    skippedSteps = st.path("skipped_steps").asLong();
    epochSoFar = new Weighted();
    epochSoFar.loss = finiteOrNaN(st, "epoch_loss_sum");
    epochSoFar.accuracy = finiteOrNaN(st, "epoch_accuracy_sum");
    epochSoFar.weight = st.path("epoch_weight").asDouble();
    lastEval = new Measure(finiteOrNaN(st, "eval_loss"), finiteOrNaN(st, "eval_accuracy"));
  }

  @Override
  public List<Map.Entry<String, String>> shown() {
    return SHOWN;
  }

  private static void putFinite(ObjectNode state, String key, double value) {
    if (Double.isFinite(value)) state.put(key, value);
  }

  private static double finiteOrNaN(JsonNode state, String key) {
    return state.has(key) ? state.get(key).asDouble() : Double.NaN;
  }

  /**
   * The micro-batches of examples: micro_batch_size in order, or cut by max_tokens_per_micro_batch
   * ({@link TokenBudget}). A rank's count may differ from another's: the gradients are averaged
   * once per optimizer step, and the loss is exact whatever the cut (each micro-batch is scaled
   * by its share of the batch's weight).
   */
  private List<List<E>> microBatches(List<E> examples) {
    return TokenBudget.microBatches(examples, schedule.microBatchSize(), schedule.maxTokensPerMicroBatch(),
        objective::tokens, objective.rowsPerExample());
  }

  private double weight(List<E> examples) {
    double w = 0;
    for (E e : examples) w += objective.weight(e);
    return w;
  }

  /** An objective without accuracy measures NaN: then there is no such metric. */
  private static void putAccuracy(Map<String, Double> metrics, String key, double value) {
    if (!Double.isNaN(value)) metrics.put(key, value);
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
