package org.rlhf4j.sft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.RunCheckpoints;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.LrSchedule;
import org.rlhf4j.config.OptimSection;
import org.rlhf4j.config.RunSection;
import org.rlhf4j.config.RunSection.OnNonFinite;
import org.rlhf4j.config.TrainSection;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.NativeException;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.PpoResults.StepResult;
import org.rlhf4j.engine.Status;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.Progress;
import org.rlhf4j.train.Distributed;
import org.rlhf4j.train.NonFiniteException;
import org.rlhf4j.train.Seeds;
import org.rlhf4j.train.TokenizerFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The loop that SFT and reward-model training share. Each epoch visits the training examples
 * once, shuffled with a seed of (run.seed, epoch) when data.shuffle is on; each batch of
 * batch_size examples (the last may be partial) is one AdamW step at the schedule's learning
 * rate, its gradient accumulated over micro-batches of micro_batch_size, clipped to
 * optim.max_grad_norm. The held-out examples are evaluated at the end of every epoch.
 *
 * <p>Loss scale: a batch's loss is the weighted mean over its examples, the weights given by the
 * {@link Objective} (SFT: the example's target tokens, so every completion token of a batch
 * counts the same however the batch is cut into micro-batches, as transformers does since
 * 4.46; pairs: 1 each). A micro-batch's mean loss is scaled by its share of the batch's weight.
 *
 * <p>Data parallelism ({@link Distributed#current()}): batch_size is global; each rank takes a
 * contiguous share of every batch, the optimizer averages the ranks' gradients (so each rank's
 * micro-batch scale is multiplied by the world size), and losses, accuracies and skip decisions
 * are taken over all ranks. Every rank evaluates the whole held-out set; rank 0 alone writes.
 *
 * <p>A NaN or Inf loss or gradient skips its step (counted in nonfinite/skipped_steps) or
 * stops the run, per run.on_nonfinite.
 *
 * <p>Writes run.out/metrics.jsonl, one line per optimizer step (the step is the line's
 * iteration): train/loss (and train/accuracy), lr, grad_norm, epoch (fractional, as Hugging
 * Face counts it), nonfinite/skipped_steps, and eval/loss (eval/accuracy) on an epoch's last
 * step.
 *
 * <p>{@link #requestStop()} (from any thread) ends {@link #run()} before the next optimizer step,
 * the decision taken on every rank together; the trainer then writes a checkpoint with the
 * optimizer state, from which run.resume continues exactly: the data order of an epoch, the
 * learning rate and the dropout streams follow from (run.seed, step), so N/2 steps, a resume and
 * N/2 more give the weights of N steps straight.
 *
 * <p>Not thread-safe. Owns its optimizer, not the model; close it before the model.
 *
 * @param <E> an example: an {@link SftExample}, a preference pair
 */
public final class SupervisedLoop<E> implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SupervisedLoop.class);
  /** Metrics shown beside the progress bar, and their labels there. */
  private static final List<Map.Entry<String, String>> SHOWN = List.of(Map.entry("train/loss", "loss"),
      Map.entry("train/accuracy", "acc"), Map.entry("eval/loss", "eval_loss"), Map.entry("eval/accuracy", "eval_acc"));

  /** What is trained: how examples weigh and how a micro-batch's loss is taken. */
  public interface Objective<E> {
    /** The example's weight in its batch's mean loss: its target tokens, or 1. */
    double weight(E example);

    /**
     * The weighted mean loss over micro and its accuracy (NaN when the objective has none);
     * with backward, accumulates the gradient of scale * loss.
     *
     * @throws NativeException with status {@link Status#NON_FINITE} when the loss is NaN or Inf
     */
    Measure measure(List<E> micro, double scale, boolean backward);
  }

  /** Called on the training thread after each optimizer step with its metrics.jsonl line. */
  public interface StepListener {
    void onStep(long step, Map<String, Double> metrics);
  }

  /** A loss and an accuracy (NaN when there is none). */
  public record Measure(double loss, double accuracy) {}

  /**
   * What a run did.
   *
   * @param trainLoss the weighted mean loss over the last epoch's steps (those not skipped)
   * @param trainAccuracy the same for the accuracy (NaN when there is none)
   * @param evalLoss the last evaluation's loss, NaN when nothing is held out
   * @param evalAccuracy the last evaluation's accuracy, NaN when none
   * @param steps optimizer steps, skipped ones included
   * @param skippedSteps steps skipped for a NaN or Inf
   * @param complete whether every step of the run was taken (false: stopped by {@link
   *     #requestStop()})
   */
  public record Outcome(double trainLoss, double trainAccuracy, double evalLoss, double evalAccuracy, long steps,
      long skippedSteps, boolean complete) {}

  private final String section;
  private final Model model;
  private final Objective<E> objective;
  private final List<E> train;
  private final List<E> eval;
  private final TrainSection schedule;
  private final RunSection run;
  private final boolean shuffle;
  private final LrSchedule lr;
  private final Optimizer optimizer;
  private final Distributed dist = Distributed.current();
  private final List<StepListener> listeners = new CopyOnWriteArrayList<>();
  private long steps;
  private long skippedSteps;
  /** The epoch's running mean so far, and the last evaluation: restored on resume. */
  private Weighted epochSoFar = new Weighted();
  private Measure lastEval = new Measure(Double.NaN, Double.NaN);
  private boolean ran;
  private volatile boolean stopRequested;

  /**
   * @param section the name of schedule's section (sft, rm): the progress label, and in messages
   * @param schedule the sft or rm section: epochs, batch sizes, warm-up and decay
   * @param shuffle data.shuffle
   * @throws ConfigException when the warm-up is not shorter than the run
   * @throws IllegalArgumentException when run.resume finds a checkpoint of another seed, batch
   *     size or length of run
   */
  public SupervisedLoop(String section, Model model, Objective<E> objective, List<E> train, List<E> eval,
      TrainSection schedule, OptimSection optim, RunSection run, boolean shuffle) {
    long total = schedule.totalSteps(train.size());
    if (schedule.warmupSteps() > 0 && schedule.warmupSteps() >= total) {
      throw new ConfigException(section + ".warmup_steps (" + schedule.warmupSteps() + ") must be less than the "
          + total + " optimizer steps of the run (" + schedule.epochs() + " epochs of " + train.size() + " examples in "
          + "batches of " + schedule.batchSize() + ")");
    }
    this.section = section;
    this.model = model;
    this.objective = objective;
    this.train = List.copyOf(train);
    this.eval = List.copyOf(eval);
    this.schedule = schedule;
    this.run = run;
    this.shuffle = shuffle;
    this.lr = schedule.lrSchedule(optim.lr(), total);
    this.optimizer = Optimizer.create(model, new Optimizer.AdamW(optim.beta1(), optim.beta2(), optim.eps(),
        optim.weightDecay(), optim.maxGradNorm()));
    try {
      if (run.resume()) checkpoints().latest().ifPresent(this::restore);
    } catch (RuntimeException e) {
      optimizer.close();
      throw e;
    }
    dist.broadcastWeights(model);  // every rank starts from rank 0's weights (also after a resume)
  }

  public void addListener(StepListener listener) {
    listeners.add(listener);
  }

  /**
   * Asks {@link #run()} to stop before its next optimizer step; callable from any thread, e.g. a
   * job service cancelling the run.
   */
  public void requestStop() {
    stopRequested = true;
  }

  /** Optimizer steps of the whole run. */
  public long totalSteps() {
    return lr.totalSteps();
  }

  /** Optimizer steps taken so far (including those before a resume). */
  public long steps() {
    return steps;
  }

  /**
   * Trains every epoch (the rest of them after a resume), writing run.out/metrics.jsonl and
   * showing progress, until the end or a {@link #requestStop()}; every save_steps steps it
   * writes a resumable checkpoint as {@link #saveCheckpoint} does (config, tokenizerDir: what
   * it gets). Runs once.
   */
  public Outcome run(HfConfig config, Path tokenizerDir) {
    if (ran) throw new IllegalStateException(section + ": the loop has already run");
    ran = true;
    Path out = run.out();
    long perEpoch = perEpoch();
    boolean stopped = false;
    try {
      if (dist.isMain()) Files.createDirectories(out);
      Path metricsFile = out.resolve(MetricsLog.FILE_NAME);
      try (MetricsLog log = !dist.isMain() ? null
              : steps == 0 ? MetricsLog.create(metricsFile) : MetricsLog.resume(metricsFile, steps);
          Progress progress = Progress.start(section, steps, totalSteps(),
              dist.isMain() ? Progress.Mode.fromSystemProperty() : Progress.Mode.OFF)) {
        Map<String, Double> shown = new LinkedHashMap<>();
        epochs:
        for (int epoch = (int) (steps / perEpoch); epoch < schedule.epochs(); epoch++) {
          List<E> order = order(epoch);
          // A resumed run continues its epoch where the checkpoint left it.
          int first = (int) (steps - epoch * perEpoch) * schedule.batchSize();
          if (first == 0) epochSoFar = new Weighted();
          for (int from = first; from < order.size(); from += schedule.batchSize()) {
            if (dist.any(stopRequested)) {  // every rank stops before the same step
              stopped = true;
              break epochs;
            }
            List<E> batch = order.subList(from, Math.min(order.size(), from + schedule.batchSize()));
            Map<String, Double> metrics = step(batch, epochSoFar);
            metrics.put("epoch", (double) steps / perEpoch);
            boolean epochEnd = from + schedule.batchSize() >= order.size();
            if (epochEnd && !eval.isEmpty()) {
              lastEval = evaluate(eval);
              metrics.put("eval/loss", lastEval.loss());
              putAccuracy(metrics, "eval/accuracy", lastEval.accuracy());
            }
            if (log != null) log.append(steps, metrics);
            for (StepListener l : listeners) l.onStep(steps, metrics);
            for (Map.Entry<String, String> e : SHOWN) {
              if (metrics.containsKey(e.getKey())) shown.put(e.getValue(), metrics.get(e.getKey()));
            }
            progress.metrics(shown);
            progress.stepTo(steps);
            if (schedule.saveSteps() > 0 && steps % schedule.saveSteps() == 0 && steps < totalSteps()) {
              // What a stop writes: a run killed from here on resumes exactly from this step.
              saveCheckpoint(config, tokenizerDir, new Outcome(epochSoFar.loss(), epochSoFar.accuracy(),
                  lastEval.loss(), lastEval.accuracy(), steps, skippedSteps, false));
            }
          }
          LOG.info("{} epoch {}/{}: train loss {}{}", section, epoch + 1, schedule.epochs(),
              String.format(Locale.ROOT, "%.4f", epochSoFar.loss()),
              eval.isEmpty() ? "" : String.format(Locale.ROOT, ", eval loss %.4f", lastEval.loss()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing to " + out + ": " + e.getMessage(), e);
    }
    model.setTraining(false);
    if (stopped) LOG.info("{}: stop requested; stopping after optimizer step {} of {}", section, steps, totalSteps());
    return new Outcome(epochSoFar.loss(), epochSoFar.accuracy(), lastEval.loss(), lastEval.accuracy(), steps,
        skippedSteps, !stopped);
  }

  private long perEpoch() {
    return (train.size() + schedule.batchSize() - 1) / schedule.batchSize();
  }

  /** Epoch e's order of the training examples. */
  private List<E> order(int epoch) {
    List<E> order = new ArrayList<>(train);
    if (shuffle) Collections.shuffle(order, new Random(Seeds.mix(run.seed(), epoch)));
    return order;
  }

  /**
   * One optimizer step on the (global) batch, of which this rank takes its share; adds its loss
   * to epoch unless skipped. Returns its metrics.
   */
  private Map<String, Double> step(List<E> batch, Weighted epoch) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    double batchWeight = weight(batch);
    List<E> mine = batch.subList(dist.shareStart(batch.size()), dist.shareEnd(batch.size()));
    Weighted loss = new Weighted();
    model.setTraining(true);
    String nonFinite = null;
    try {
      for (int from = 0; from < mine.size(); from += schedule.microBatchSize()) {
        List<E> micro = mine.subList(from, Math.min(mine.size(), from + schedule.microBatchSize()));
        double w = weight(micro);
        // Dropout, when the model has any: a stream per rank and micro-batch position.
        Engine.manualSeed(Seeds.mix(run.seed(), steps, from + (long) dist.rank() * batch.size()));
        loss.add(objective.measure(micro, w / batchWeight * dist.worldSize(), true), w);
      }
    } catch (NativeException e) {
      if (e.status() != Status.NON_FINITE) throw e;
      nonFinite = e.getMessage();
    }
    if (dist.any(nonFinite != null)) {  // every rank skips together
      optimizer.zeroGrad();
      steps++;
      skipped("the loss is NaN or Inf (" + (nonFinite != null ? nonFinite : "on another rank") + ")");
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
      epoch.add(loss.measure(), batchWeight);
    }
    metrics.put("train/loss", loss.loss());
    putAccuracy(metrics, "train/accuracy", loss.accuracy());
    metrics.put("lr", rate);
    metrics.put("grad_norm", result.gradNorm());
    metrics.put("nonfinite/skipped_steps", (double) skippedSteps);
    return metrics;
  }

  private void skipped(String why) {
    skippedSteps++;
    String what = "optimizer step " + steps + ": " + why;
    if (run.onNonfinite() == OnNonFinite.STOP) throw new NonFiniteException(what + " (run.on_nonfinite is stop)");
    LOG.warn("{}; the step was skipped", what);
  }

  /**
   * The weighted mean loss (and accuracy) over examples, in micro-batches, without gradient and
   * with dropout off; NaN when a loss is NaN or Inf.
   */
  public Measure evaluate(List<E> examples) {
    Weighted total = new Weighted();
    model.setTraining(false);
    try {
      for (int from = 0; from < examples.size(); from += schedule.microBatchSize()) {
        List<E> micro = examples.subList(from, Math.min(examples.size(), from + schedule.microBatchSize()));
        total.add(objective.measure(micro, 1.0, false), weight(micro));
      }
    } catch (NativeException e) {
      if (e.status() != Status.NON_FINITE) throw e;
      LOG.warn("evaluation after optimizer step {}: the loss is NaN or Inf ({})", steps, e.getMessage());
      return new Measure(Double.NaN, Double.NaN);
    }
    return total.measure();
  }

  /**
   * Writes the model into run.out/checkpoints/iter-STEPS (replacing the previous checkpoint):
   * config.json (config with the model's heads), the tokenizer files of tokenizerDir (null:
   * none), and trainer_state.json with the outcome; a run stopped before its end also gets its
   * optimizer.safetensors, which a resume needs (a finished run's model is kept without it, as
   * the model is all that is used from it). Returns its path.
   */
  public Path saveCheckpoint(HfConfig config, Path tokenizerDir, Outcome outcome) {
    dist.requireSameWeights(section, model);
    if (!dist.isMain()) return checkpoints().pathFor(steps);
    ObjectNode state = JsonNodeFactory.instance.objectNode()
        .put("global_step", outcome.steps())
        .put("max_steps", totalSteps())
        .put("epoch", (double) steps / perEpoch())
        .put("train_batch_size", schedule.batchSize())
        .put("seed", run.seed())
        .put("skipped_steps", outcome.skippedSteps());
    // JSON has no NaN: a metric that was not measured is left out.
    putFinite(state, "train_loss", outcome.trainLoss());
    putFinite(state, "eval_loss", outcome.evalLoss());
    putFinite(state, "eval_accuracy", outcome.evalAccuracy());
    // The running sums of the epoch in progress, so a resumed run's train_loss is the same.
    putFinite(state, "epoch_loss_sum", epochSoFar.loss);
    putFinite(state, "epoch_accuracy_sum", epochSoFar.accuracy);
    state.put("epoch_weight", epochSoFar.weight);
    CheckpointWriter w = new CheckpointWriter()
        .model(model, config.withModel(model.config()))
        .trainerState(state);
    if (!outcome.complete()) w.optimizer("", optimizer);
    TokenizerFiles.copyInto(w, tokenizerDir);
    Path saved = checkpoints().save(steps, w);
    LOG.info("checkpoint {}", saved);
    return saved;
  }

  private static void putFinite(ObjectNode state, String key, double value) {
    if (Double.isFinite(value)) state.put(key, value);
  }

  private static double finiteOrNaN(JsonNode state, String key) {
    return state.has(key) ? state.get(key).asDouble() : Double.NaN;
  }

  private RunCheckpoints checkpoints() {
    return new RunCheckpoints(run.out(), 1);
  }

  /** Continues from the checkpoint in dir: weights, optimizer state, step counters, the epoch's sums. */
  private void restore(Path dir) {
    Checkpoint c = Checkpoint.open(dir);
    JsonNode st = c.trainerState().orElseThrow(() -> new IllegalStateException(dir + ": no trainer_state.json"));
    long at = st.path("global_step").asLong(-1);
    if (st.path("seed").asLong() != run.seed()) {
      throw new IllegalArgumentException("run.seed is " + run.seed() + " but the checkpoint " + dir
          + " was made with seed " + st.path("seed").asLong() + ": resume with the same seed");
    }
    if (st.path("max_steps").asLong() != totalSteps() || st.path("train_batch_size").asInt() != schedule.batchSize()
        || at < 0 || at > totalSteps()) {
      throw new IllegalArgumentException(section + ": the checkpoint " + dir + " is of a run of "
          + st.path("max_steps").asLong() + " steps in batches of " + st.path("train_batch_size").asInt()
          + ", this one has " + totalSteps() + " in batches of " + schedule.batchSize()
          + ": resume with the same data and " + section + " section");
    }
    c.loadWeights(model, LoadOptions.strict());
    if (at > 0 && at < totalSteps()) c.loadOptimizer(optimizer, "");
    steps = at;
    skippedSteps = st.path("skipped_steps").asLong();
    epochSoFar = new Weighted();
    epochSoFar.loss = finiteOrNaN(st, "epoch_loss_sum");
    epochSoFar.accuracy = finiteOrNaN(st, "epoch_accuracy_sum");
    epochSoFar.weight = st.path("epoch_weight").asDouble();
    lastEval = new Measure(finiteOrNaN(st, "eval_loss"), finiteOrNaN(st, "eval_accuracy"));
    LOG.info("resumed from {} (iteration {})", dir, steps);
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

  /** A running weighted mean of losses and accuracies. */
  private static final class Weighted {
    private double loss;
    private double accuracy;
    private double weight;

    void add(Measure m, double w) {
      loss += m.loss() * w;
      accuracy += m.accuracy() * w;
      weight += w;
    }

    double loss() {
      return weight == 0 ? Double.NaN : loss / weight;
    }

    double accuracy() {
      return weight == 0 ? Double.NaN : accuracy / weight;
    }

    Measure measure() {
      return new Measure(loss(), accuracy());
    }

    /** The same running mean over every rank's examples. */
    Weighted overRanks(Distributed dist) {
      if (!dist.active()) return this;
      double[] s = dist.sum(loss, accuracy, weight);
      Weighted all = new Weighted();
      all.loss = s[0];
      all.accuracy = s[1];
      all.weight = s[2];
      return all;
    }
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
