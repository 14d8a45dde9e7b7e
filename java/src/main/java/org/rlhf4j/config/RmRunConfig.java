package org.rlhf4j.config;

import java.nio.file.Path;

/**
 * Configuration of the train-rm command (pairwise Bradley-Terry loss). Immutable;
 * load it with {@link #loader()}.
 */
public record RmRunConfig(
    @Doc("Where the run writes, its seed, device and failure policy.") RunSection run,
    @Doc("The model the reward model starts from (a fresh reward head is added).") ModelSection model,
    @Doc("The preference data file and how it is read; data.eval_fraction is held out.") DataSection data,
    @Doc("Epochs, batches and learning-rate shape of reward-model training.") TrainSection rm,
    @Doc("AdamW (optim.lr is the peak learning rate) and gradient clipping.") OptimSection optim)
    implements CommandConfig {

  public RmRunConfig {
    Check.notNull("run", run);
    Check.notNull("model", model);
    Check.notNull("data", data);
    Check.notNull("rm", rm);
    Check.notNull("optim", optim);
  }

  /** Every key at its default: run.out runs/rm, 2 epochs of 16, cosine, lr 1e-4. */
  public static RmRunConfig defaults() {
    return new RmRunConfig(RunSection.defaults(Path.of("runs/rm")), ModelSection.defaults(),
        DataSection.defaults(), TrainSection.rmDefaults(), OptimSection.defaults(1e-4));
  }

  /** The loader of this command's configuration. */
  public static ConfigLoader<RmRunConfig> loader() {
    return new ConfigLoader<>(RmRunConfig.class, defaults());
  }

  @Override
  public void validate() {
    rm.validate("rm", model, data);
  }

  /** The learning rate per optimizer step for a run of totalSteps (see {@link TrainSection#totalSteps}). */
  public LrSchedule lrSchedule(long totalSteps) {
    return rm.lrSchedule(optim.lr(), totalSteps);
  }
}
