package org.rlhf4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.engine.Model;

/**
 * A trainer as {@link TrainingLoop} drives it: one step and its state. The loop owns the run
 * (metrics.jsonl, progress, stop request, time budget, eval and checkpoint cadence, resume,
 * data-parallel checks); a trainer says what a step is, what its metrics are, when it
 * evaluates and checkpoints, and what a checkpoint holds. A step is whatever one metrics.jsonl
 * line counts: a PPO iteration, an SFT or reward-model optimizer step.
 */
public interface Trainable {
  /** The progress bar's label and the name in messages: ppo, sft, rm. */
  String label();

  /** Steps done, those before a resume included. */
  long position();

  /** Steps of the whole run. */
  long total();

  /**
   * Runs the next step; returns its metrics.jsonl line, mutable, in the order it is written, or
   * null when it gave up the step for a stop request ({@link TrainingLoop#stopPending()}),
   * leaving its position and state as they were.
   */
  Map<String, Double> step();

  /** Whether to evaluate after the step that brought the run to position. */
  boolean evalDue(long position);

  /** The held-out metrics (eval/*) merged into the line of the step before. */
  Map<String, Double> evaluate();

  /**
   * Whether to checkpoint after the step that brought the run to position. At the end of the
   * run (or a stop) the loop checkpoints unless this already did at that position.
   */
  boolean checkpointDue(long position);

  /** How many checkpoints run.out/checkpoints keeps, the newest ({@link Integer#MAX_VALUE}: all). */
  int keepCheckpoints();

  /**
   * The trained models by name: rank 0's weights are broadcast to every rank at the start, and
   * every rank's must still be bitwise equal before each checkpoint.
   */
  Map<String, Model> models();

  /** What a checkpoint of the current position holds; complete: the run has reached its end. */
  CheckpointWriter checkpoint(boolean complete);

  /**
   * Continues from the checkpoint c in dir, whose trainer_state.json is state (its seed already
   * checked against run.seed).
   *
   * @throws IllegalArgumentException when the checkpoint is of another run
   */
  void restore(Checkpoint c, JsonNode state, Path dir);

  /** Metrics shown beside the progress bar: (metric key, label) in order. */
  List<Map.Entry<String, String>> shown();

  /** The run's time budget (null: none): no step starts after it is spent. */
  default Duration timeBudget() {
    return null;
  }

  /** Called after a step's line is written and its checkpoint made, e.g. to tell listeners. */
  default void finished(long position, Map<String, Double> metrics) {}

  /** Called once the loop has stopped, before its last checkpoint. */
  default void ended() {}
}
