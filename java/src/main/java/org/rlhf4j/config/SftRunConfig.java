package org.rlhf4j.config;

import java.nio.file.Path;

/**
 * Configuration of the sft command (supervised fine-tuning with the causal LM loss). Immutable;
 * load it with {@link #loader()}.
 */
public record SftRunConfig(
    @Doc("Where the run writes, its seed, device and failure policy.") RunSection run,
    @Doc("The model to fine-tune.") ModelSection model,
    @Doc("The training data file and how it is read; data.eval_fraction is held out.") DataSection data,
    @Doc("Epochs, batches and learning-rate shape of fine-tuning.") TrainSection sft,
    @Doc("AdamW (optim.lr is the peak learning rate) and gradient clipping.") OptimSection optim)
    implements CommandConfig {

  public SftRunConfig {
    Check.notNull("run", run);
    Check.notNull("model", model);
    Check.notNull("data", data);
    Check.notNull("sft", sft);
    Check.notNull("optim", optim);
  }

  /** Every key at its default: run.out runs/sft, 3 epochs of 16, cosine, lr 3e-4. */
  public static SftRunConfig defaults() {
    return new SftRunConfig(RunSection.defaults(Path.of("runs/sft")), ModelSection.defaults(),
        DataSection.defaults(), TrainSection.sftDefaults(), OptimSection.defaults(3e-4));
  }

  /** The loader of this command's configuration. */
  public static ConfigLoader<SftRunConfig> loader() {
    return new ConfigLoader<>(SftRunConfig.class, defaults());
  }

  @Override
  public void validate() {
    sft.validate("sft", model, data);
  }

  /** The learning rate per optimizer step for a run of totalSteps (see {@link TrainSection#totalSteps}). */
  public LrSchedule lrSchedule(long totalSteps) {
    return sft.lrSchedule(optim.lr(), totalSteps);
  }
}
