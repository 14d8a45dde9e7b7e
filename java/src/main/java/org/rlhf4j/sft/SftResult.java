package org.rlhf4j.sft;

import java.nio.file.Path;

/**
 * What an SFT run did.
 *
 * @param trainLoss mean loss per completion token over the last epoch
 * @param evalLoss mean loss per completion token on the held-out examples after the last epoch;
 *     NaN when none are held out
 * @param steps optimizer steps (skipped ones included)
 * @param trainExamples training examples (after the length limits)
 * @param evalExamples held-out examples
 * @param skippedTooLong examples left out for the length limits
 * @param truncated examples cut to the length limits
 * @param skippedSteps optimizer steps skipped for a NaN or Inf
 * @param checkpoint the saved model's directory
 */
public record SftResult(double trainLoss, double evalLoss, long steps, int trainExamples, int evalExamples,
    int skippedTooLong, int truncated, long skippedSteps, Path checkpoint) {}
