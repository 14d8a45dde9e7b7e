package org.rlhf4j.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.rlhf4j.engine.DpoOptions;
import org.rlhf4j.engine.DpoOptions.LossType;

/**
 * Section {@code dpo} of the dpo command: the schedule (as sft/rm) and the DPO family's loss,
 * with TRL's names and defaults (DPOConfig: beta 0.1, sigmoid, max_length 1024).
 */
public record DpoSection(
    @Doc("Passes over the training pairs.") int epochs,
    @Doc("Pairs per optimizer step.") int batchSize,
    @Doc("Pairs per forward/backward pass (both sides in one pass); must divide batch_size.") int microBatchSize,
    @Doc("Optimizer steps of linear warm-up from 0.") int warmupSteps,
    @Doc("Learning rate after warm-up: constant, linear or cosine (to 0).") Decay decay,
    @Doc("Longest prompt + completion in tokens; longer sequences keep their start. A pair whose prompt alone "
        + "reaches it is dropped (counted).") int maxLength,
    @Doc("Write a resumable checkpoint every this many optimizer steps (0 = only at the end and when stopped).")
        int saveSteps,
    @Doc("Inverse temperature of the implicit reward beta (pi - ref): how far the policy may move.") double beta,
    @Doc("The loss, or a list of losses summed with dpo.loss_weights: sigmoid (DPO), robust, ipo, hinge, simpo "
        + "(reference-free).") Names lossType,
    @Doc("Weights of the losses in dpo.loss_type (default 1 each).") @Nullable Numbers lossWeights,
    @Doc("Label-noise rate eps, in [0, 0.5), of the sigmoid loss (conservative DPO, TRL's label_smoothing) and the "
        + "robust loss.") double labelSmoothing,
    @Doc("SimPO's target reward margin gamma.") double simpoGamma,
    @Doc("RPO: adds rpo_alpha times the chosen completions' NLL per token (0 = off).") double rpoAlpha,
    @Doc("Compute every reference log-prob in one pass before training and free the reference model.")
        boolean precomputeRefLogprobs,
    @Doc("The frozen reference model's checkpoint; default model.path (a LoRA policy's reference is its base, "
        + "adapters off).") @Nullable Path referencePath,
    @Doc("Token budget of a micro-batch: each batch's pairs, sorted by length, are cut into micro-batches of at most "
        + "this many padded tokens, both sides counted (a longer pair gets one of its own); micro_batch_size is then "
        + "unused. 0 = off.") int maxTokensPerMicroBatch) {

  public DpoSection {
    Check.atLeast("dpo.epochs", epochs, 1);
    Check.atLeast("dpo.batch_size", batchSize, 1);
    Check.atLeast("dpo.micro_batch_size", microBatchSize, 1);
    Check.atLeast("dpo.warmup_steps", warmupSteps, 0);
    Check.notNull("dpo.decay", decay);
    Check.atLeast("dpo.max_length", maxLength, 2);
    Check.atLeast("dpo.save_steps", saveSteps, 0);
    Check.positive("dpo.beta", beta);
    Check.notNull("dpo.loss_type", lossType);
    Check.halfOpen("dpo.label_smoothing", labelSmoothing, 0, 0.5);
    Check.finite("dpo.simpo_gamma", simpoGamma);
    Check.nonNegative("dpo.rpo_alpha", rpoAlpha);
    Check.atLeast("dpo.max_tokens_per_micro_batch", maxTokensPerMicroBatch, 0);
  }

  /** TRL's DPOConfig defaults: 3 epochs of 8 pairs, linear decay, max_length 1024, beta 0.1, sigmoid. */
  public static DpoSection defaults() {
    return new DpoSection(3, 8, 8, 0, Decay.LINEAR, 1024, 500, 0.1, Names.of("sigmoid"), null, 0.0, 0.5, 0.0,
        false, null, 0);
  }

  /** The loss as the native library takes it; a ConfigException names an unknown loss or a weight count. */
  public DpoOptions options() {
    List<LossType> types = new ArrayList<>();
    for (String name : lossType.values()) {
      LossType t = null;
      for (LossType c : LossType.values()) if (c.configName().equals(name.toLowerCase(Locale.ROOT))) t = c;
      if (t == null) {
        throw new ConfigException("dpo.loss_type: unknown loss '" + name + "' (known: sigmoid, robust, ipo, hinge, "
            + "simpo)");
      }
      types.add(t);
    }
    List<Double> weights = lossWeights == null ? types.stream().map(t -> 1.0).toList() : lossWeights.values();
    if (weights.size() != types.size()) {
      throw new ConfigException("dpo.loss_weights has " + weights.size() + " weights for the " + types.size()
          + " losses of dpo.loss_type");
    }
    return new DpoOptions(types, weights, beta, labelSmoothing, simpoGamma, rpoAlpha);
  }

  /** The schedule as sft and train-rm take it (dpo.max_length is the sequence limit). */
  public TrainSection schedule() {
    return new TrainSection(epochs, batchSize, microBatchSize, warmupSteps, decay, maxLength, saveSteps, true,
        maxTokensPerMicroBatch);
  }
}
