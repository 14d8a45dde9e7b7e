package org.rlhf4j.ppo;

import org.rlhf4j.data.PromptCursor;

/**
 * What a checkpoint needs beyond weights and optimizer moments to continue a run exactly:
 * counters, the KL coefficient, the score statistics and the prompt pool's cursor. Every random
 * draw is derived from (run.seed, iteration, epoch), so no generator state is saved.
 */
public record PpoState(
    long iteration,
    long optimizerSteps,
    double klCoef,
    double scoreMean,
    double scoreVar,
    long scoreCount,
    PromptCursor promptCursor,
    long skippedSteps,
    long skippedIterations,
    long seed,
    double elapsedSeconds) {}
