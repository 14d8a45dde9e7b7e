package org.rlhf4j.ppo;

import org.rlhf4j.data.PromptCursor;
import org.rlhf4j.data.PromptPool;

/**
 * What a PPO iteration changes before it learns (the prompts it drew, the score moments), taken
 * at its start so that an iteration given up for a stop request leaves no trace: a resume then
 * continues as a run never stopped would.
 */
final class Rewind {
  private final PromptPool prompts;
  private final PromptCursor cursor;
  private final RunningMoments moments;
  private final double mean;
  private final double var;
  private final long count;

  Rewind(PromptPool prompts, RunningMoments moments) {
    this.prompts = prompts;
    this.cursor = prompts.cursor();
    this.moments = moments;
    this.mean = moments.mean();
    this.var = moments.var();
    this.count = moments.count();
  }

  /** Puts the state back; returns null, the step's "given up". */
  <T> T abandon() {
    prompts.restore(cursor);
    moments.restore(mean, var, count);
    return null;
  }
}
