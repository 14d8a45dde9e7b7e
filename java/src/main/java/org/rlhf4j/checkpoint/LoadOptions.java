package org.rlhf4j.checkpoint;

/**
 * How strictly weights must match the model they load into. Immutable and thread-safe.
 *
 * @param initMissingHeads a value or reward head the model has but the files lack keeps its
 *     fresh initialisation (e.g. a PPO policy with a value head loaded from an SFT model)
 * @param dropExtraHeads a head in the files that the model lacks is skipped (e.g. a reference
 *     model loaded from a PPO checkpoint)
 */
public record LoadOptions(boolean initMissingHeads, boolean dropExtraHeads) {
  /** Every tensor of the model must be in the files and every file tensor in the model. */
  public static LoadOptions strict() {
    return new LoadOptions(false, false);
  }

  /** Heads may be added or dropped; the trunk must still match exactly. */
  public static LoadOptions allowHeadChanges() {
    return new LoadOptions(true, true);
  }
}
