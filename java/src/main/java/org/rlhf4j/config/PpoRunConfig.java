package org.rlhf4j.config;

import java.nio.file.Path;
import org.rlhf4j.engine.PpoOptions;

/** Configuration of the ppo command. Immutable; load it with {@link #loader()}. */
public record PpoRunConfig(
    @Doc("Where the run writes, its seed, device and failure policy.") RunSection run,
    @Doc("The SFT policy (also the frozen reference) and the critic.") PpoModelSection model,
    @Doc("Where scores come from and how they are shaped.") RewardSection reward,
    @Doc("Prompt files and how prompts are read.") DataSection data,
    @Doc("How responses are sampled.") GenerationSection generation,
    @Doc("The PPO algorithm; ppo.preset chooses the defaults of this section.") PpoSection ppo,
    @Doc("AdamW and gradient clipping.") OptimSection optim,
    @Doc("Iterations, learning-rate schedule, evaluation, checkpoints, time budget.") ScheduleSection schedule)
    implements CommandConfig {

  public PpoRunConfig {
    Check.notNull("run", run);
    Check.notNull("model", model);
    Check.notNull("reward", reward);
    Check.notNull("data", data);
    Check.notNull("generation", generation);
    Check.notNull("ppo", ppo);
    Check.notNull("optim", optim);
    Check.notNull("schedule", schedule);
  }

  /** Every key at its default: run.out runs/ppo, the seed preset, lr 1.41e-5 (TRL's). */
  public static PpoRunConfig defaults() {
    return new PpoRunConfig(RunSection.defaults(Path.of("runs/ppo")), PpoModelSection.defaults(),
        RewardSection.defaults(), DataSection.defaults(), GenerationSection.defaults(), PpoSection.seed(),
        OptimSection.defaults(1.41e-5), ScheduleSection.defaults());
  }

  /** The loader of this command's configuration. */
  public static ConfigLoader<PpoRunConfig> loader() {
    return new ConfigLoader<>(PpoRunConfig.class, defaults());
  }

  @Override
  public void validate() {
    Check.rule(model.path() != null, "model.path is required: the checkpoint directory of the SFT policy");
    Check.rule(data.prompts() != null, "data.prompts is required: the prompt file");
    switch (reward.kind()) {
      case MODEL -> {
        Check.rule(reward.modelPath() != null, "reward.model_path is required when reward.kind is model");
        Check.rule(reward.function() == null,
            "reward.function is set but reward.kind is model; set reward.kind: function or remove reward.function");
      }
      case FUNCTION -> {
        Check.rule(reward.function() != null, "reward.function is required when reward.kind is function");
        Check.rule(reward.modelPath() == null,
            "reward.model_path is set but reward.kind is function; set reward.kind: model or remove reward.model_path");
      }
    }
    Check.rule(model.criticPath() == null || model.critic() == PpoModelSection.Critic.SEPARATE,
        "model.critic_path is set but model.critic is shared; set model.critic: separate or remove model.critic_path");
    Check.rule(generation.temperature() > 0,
        "generation.temperature must be > 0 for PPO (log-probs are taken at logits / temperature), got 0");
    Check.rule(schedule.rolloutBatch() % ppo.minibatchSize() == 0, "ppo.minibatch_size (" + ppo.minibatchSize()
        + ") must divide schedule.rollout_batch (" + schedule.rolloutBatch() + ")");
    Check.rule(ppo.minibatchSize() % ppo.microBatchSize() == 0, "ppo.micro_batch_size (" + ppo.microBatchSize()
        + ") must divide ppo.minibatch_size (" + ppo.minibatchSize() + ")");
    Check.rule(schedule.warmupSteps() == 0 || schedule.warmupSteps() < totalOptimizerSteps(),
        "schedule.warmup_steps (" + schedule.warmupSteps() + ") must be less than the total optimizer steps ("
            + totalOptimizerSteps() + " = schedule.iterations x ppo.ppo_epochs x rollout_batch / minibatch_size)");
    Check.rule(schedule.evalPrompts() == 0 || data.evalPrompts() != null || data.evalFraction() > 0,
        "schedule.eval_prompts is " + schedule.evalPrompts() + " but there are no held-out prompts; set "
            + "data.eval_prompts or data.eval_fraction > 0, or schedule.eval_prompts: 0");
  }

  /** Optimizer steps of the whole run: iterations x ppo_epochs x minibatches per rollout. */
  public long totalOptimizerSteps() {
    return (long) schedule.iterations() * ppo.ppoEpochs() * (schedule.rolloutBatch() / ppo.minibatchSize());
  }

  /** The learning rate per optimizer step: optim.lr with schedule's warm-up and decay. */
  public LrSchedule lrSchedule() {
    return new LrSchedule(optim.lr(), schedule.warmupSteps(), schedule.decay(), schedule.minLrRatio(),
        totalOptimizerSteps());
  }

  /** The engine's PPO switches from ppo, reward (score clip, EOS penalty) and generation (temperature). */
  public PpoOptions ppoOptions() {
    Double eos = reward.missingEosPenalty();
    return new PpoOptions(ppo.klEstimator(), reward.scoreClip(), eos != null, eos == null ? 0 : eos, ppo.gamma(),
        ppo.lam(), ppo.whitenAdvantages(), ppo.clipRatio(), ppo.cliprange(), ppo.clipValue(), ppo.cliprangeValue(),
        ppo.vfCoef(), ppo.entCoef(), generation.temperature());
  }
}
