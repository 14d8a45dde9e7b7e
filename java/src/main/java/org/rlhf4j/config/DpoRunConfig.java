package org.rlhf4j.config;

import java.nio.file.Path;

/**
 * Configuration of the dpo command (offline preference optimisation, TRL's DPOTrainer). Immutable;
 * load it with {@link #loader()}.
 */
public record DpoRunConfig(
    @Doc("Where the run writes, its seed, device and failure policy.") RunSection run,
    @Doc("The policy to train (usually the SFT model); with model.lora, adapters on a frozen base.")
        ModelSection model,
    @Doc("The preference pairs ({\"prompt\", \"chosen\", \"rejected\"}); data.eval_fraction is held out.")
        DataSection data,
    @Doc("The schedule and the DPO loss.") DpoSection dpo,
    @Doc("AdamW (optim.lr is the peak learning rate; TRL's default 1e-6) and gradient clipping.") OptimSection optim)
    implements CommandConfig {

  public DpoRunConfig {
    Check.notNull("run", run);
    Check.notNull("model", model);
    Check.notNull("data", data);
    Check.notNull("dpo", dpo);
    Check.notNull("optim", optim);
  }

  /** Every key at its default: run.out runs/dpo, TRL's DPOConfig, lr 1e-6. */
  public static DpoRunConfig defaults() {
    return new DpoRunConfig(RunSection.defaults(Path.of("runs/dpo")), ModelSection.defaults(), DataSection.defaults(),
        DpoSection.defaults(), OptimSection.defaults(1e-6));
  }

  public static ConfigLoader<DpoRunConfig> loader() {
    return new ConfigLoader<>(DpoRunConfig.class, defaults());
  }

  @Override
  public void validate() {
    dpo.schedule().validate("dpo", model, data);
    dpo.options();
  }
}
