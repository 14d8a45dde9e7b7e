package org.rlhf4j.rm;

import java.nio.file.Path;

/**
 * What a reward-model run did.
 *
 * @param trainLoss mean pairwise loss over the last epoch
 * @param trainAccuracy share of the last epoch's pairs whose chosen side scored higher, as
 *     measured while training
 * @param evalLoss mean pairwise loss on the held-out pairs after the last epoch (NaN when none)
 * @param evalAccuracy share of held-out pairs whose chosen side scores higher (NaN when none)
 * @param steps optimizer steps (skipped ones included)
 * @param trainPairs training pairs (after the length limits)
 * @param evalPairs held-out pairs
 * @param skippedTooLong pairs left out for the length limits
 * @param truncated pairs cut to the length limits
 * @param skippedSteps optimizer steps skipped for a NaN or Inf
 * @param checkpoint the saved model's directory
 */
public record RmResult(double trainLoss, double trainAccuracy, double evalLoss, double evalAccuracy, long steps,
    int trainPairs, int evalPairs, int skippedTooLong, int truncated, long skippedSteps, Path checkpoint) {}
