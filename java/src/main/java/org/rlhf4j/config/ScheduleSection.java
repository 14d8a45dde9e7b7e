package org.rlhf4j.config;

import java.time.Duration;

/** Section {@code schedule} of the ppo command: iterations, learning-rate shape, eval and checkpoints. */
public record ScheduleSection(
    @Doc("PPO iterations (rollout + learning).") int iterations,
    @Doc("Prompts per iteration.") int rolloutBatch,
    @Doc("Optimizer steps of linear warm-up from 0.") int warmupSteps,
    @Doc("Learning rate after warm-up: constant, linear or cosine.") Decay decay,
    @Doc("Final learning rate as a fraction of optim.lr (linear and cosine).") double minLrRatio,
    @Doc("Evaluate every N iterations.") int evalEvery,
    @Doc("Held-out prompts per evaluation (0 = no evaluation).") int evalPrompts,
    @Doc("Write a checkpoint every N iterations.") int checkpointEvery,
    @Doc("Checkpoints kept in the run directory, newest first (0 = keep all).") int keepCheckpoints,
    @Doc("Stop cleanly (with a checkpoint) after this long: 90s, 20m, 2h, PT1H30M (null = no limit).")
        @Nullable Duration timeBudget) {

  public ScheduleSection {
    Check.atLeast("iterations", iterations, 1);
    Check.atLeast("rollout_batch", rolloutBatch, 1);
    Check.atLeast("warmup_steps", warmupSteps, 0);
    Check.notNull("decay", decay);
    Check.closed("min_lr_ratio", minLrRatio, 0, 1);
    Check.atLeast("eval_every", evalEvery, 1);
    Check.atLeast("eval_prompts", evalPrompts, 0);
    Check.atLeast("checkpoint_every", checkpointEvery, 1);
    Check.atLeast("keep_checkpoints", keepCheckpoints, 0);
    if (timeBudget != null && (timeBudget.isNegative() || timeBudget.isZero())) {
      throw new ConfigException("time_budget must be > 0, got " + Durations.format(timeBudget));
    }
  }

  /** 100 iterations of 16 prompts, constant lr, eval and checkpoint every 10, keep 3, no time limit. */
  public static ScheduleSection defaults() {
    return new ScheduleSection(100, 16, 0, Decay.CONSTANT, 0, 10, 32, 10, 3, null);
  }
}
