package org.rlhf4j.config;

import java.nio.file.Path;
import java.util.Locale;
import org.rlhf4j.engine.AlgoOptions;
import org.rlhf4j.engine.PpoOptions;

/** Configuration of the ppo command. Immutable; load it with {@link #loader()}. */
public record PpoRunConfig(
    @Doc("Where the run writes, its seed, device and failure policy.") RunSection run,
    @Doc("The SFT policy (also the frozen reference) and the critic.") PpoModelSection model,
    @Doc("Where scores come from and how they are shaped.") RewardSection reward,
    @Doc("Prompt files and how prompts are read.") DataSection data,
    @Doc("How responses are sampled.") GenerationSection generation,
    @Doc("Multi-turn episodes with tools: on when agent.tools is non-empty or agent.environment is set; the response"
        + " is then the whole episode, generation.max_new_tokens its budget (tool results count).") AgentSection agent,
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
    Check.notNull("agent", agent);
    Check.notNull("ppo", ppo);
    Check.notNull("optim", optim);
    Check.notNull("schedule", schedule);
  }

  /** Every key at its default: run.out runs/ppo, the seed preset, lr 1.41e-5 (TRL's). */
  public static PpoRunConfig defaults() {
    return new PpoRunConfig(RunSection.defaults(Path.of("runs/ppo")), PpoModelSection.defaults(),
        RewardSection.defaults(), DataSection.defaults(), GenerationSection.defaults(), AgentSection.defaults(),
        PpoSection.defaults(),
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
    Check.rule(reward.url() == null || reward.kind() == RewardSection.Kind.REMOTE, "reward.url is set but reward.kind is "
        + reward.kind().name().toLowerCase(Locale.ROOT) + "; set reward.kind: remote or remove reward.url");
    switch (reward.kind()) {
      case MODEL -> {
        Check.rule(reward.modelPath() != null, "reward.model_path is required when reward.kind is model");
        Check.rule(reward.function() == null && reward.functions() == null,
            "reward.function(s) is set but reward.kind is model; set reward.kind: function or remove it");
      }
      case FUNCTION -> {
        Check.rule((reward.function() != null) != (reward.functions() != null),
            "reward.kind function needs exactly one of reward.function (a class) and reward.functions (a list)");
        Check.rule(reward.modelPath() == null,
            "reward.model_path is set but reward.kind is function; set reward.kind: model or remove reward.model_path");
      }
      case REMOTE -> {
        Check.rule(reward.url() != null, "reward.url is required when reward.kind is remote");
        Check.rule(reward.modelPath() == null && reward.function() == null && reward.functions() == null,
            "reward.kind is remote: remove reward.model_path, reward.function and reward.functions");
      }
    }
    Check.rule(model.criticPath() == null || model.critic() == PpoModelSection.Critic.SEPARATE,
        "model.critic_path is set but model.critic is shared; set model.critic: separate or remove model.critic_path");
    Check.rule(generation.temperature() > 0,
        "generation.temperature must be > 0 for PPO (log-probs are taken at logits / temperature), got 0");
    Check.rule(rolloutSamples() % ppo.minibatchSize() == 0, "ppo.minibatch_size (" + ppo.minibatchSize()
        + ") must divide schedule.rollout_batch x generation.num_samples (" + schedule.rolloutBatch() + " x "
        + numSamples() + " = " + rolloutSamples() + ")");
    validateAlgorithm();
    Check.rule(ppo.minibatchSize() % ppo.microBatchSize() == 0, "ppo.micro_batch_size (" + ppo.microBatchSize()
        + ") must divide ppo.minibatch_size (" + ppo.minibatchSize() + ")");
    Check.rule(schedule.warmupSteps() == 0 || schedule.warmupSteps() < totalOptimizerSteps(),
        "schedule.warmup_steps (" + schedule.warmupSteps() + ") must be less than the total optimizer steps ("
            + totalOptimizerSteps() + " = schedule.iterations x ppo.ppo_epochs x rollout_batch / minibatch_size)");
    Check.rule(schedule.evalPrompts() == 0 || data.evalPrompts() != null || data.evalFraction() > 0,
        "schedule.eval_prompts is " + schedule.evalPrompts() + " but there are no held-out prompts; set "
            + "data.eval_prompts or data.eval_fraction > 0, or schedule.eval_prompts: 0");
  }

  private void validateAlgorithm() {
    var e = ppo.estimator();
    String name = "ppo.estimator " + e.name().toLowerCase(Locale.ROOT);
    Check.rule(!e.usesGroups() || numSamples() >= 2, name + " compares the samples of a prompt: "
        + "generation.num_samples must be >= 2, got " + numSamples());
    Check.rule(e.usesCritic() || model.critic() == PpoModelSection.Critic.SHARED,
        "model.critic is separate but " + name + " needs no critic; remove model.critic and model.critic_path");
    Check.rule(e.usesCritic() || !ppo.clipValue(), "ppo.clip_value is set but " + name + " has no critic");
    Check.rule(!ppo.adaptiveKl() || ppo.klIn() == AlgoOptions.KlIn.REWARD,
        "ppo.adaptive_kl adapts the KL penalty in the reward, but ppo.kl_in is not reward");
    Check.rule(!ppo.dynamicSampling() || numSamples() >= 2,
        "ppo.dynamic_sampling drops groups whose rewards are all equal: generation.num_samples must be >= 2");
    Check.rule(ppo.overlongBufferLen() == null || ppo.overlongBufferLen() <= generation.maxNewTokens(),
        "ppo.overlong_buffer_len (" + ppo.overlongBufferLen() + ") must be at most generation.max_new_tokens ("
            + generation.maxNewTokens() + ")");
  }

  /** Whether responses are multi-turn episodes: agent.tools is non-empty or agent.environment is set. */
  public boolean agentEnabled() {
    return agent.environment() != null || !agent.tools().classNames().isEmpty();
  }

  /** Responses per prompt: generation.num_samples, or the ppo preset's. */
  public int numSamples() {
    return generation.numSamples() != null ? generation.numSamples() : ppo.preset().numSamples();
  }

  /** Samples in one rollout: schedule.rollout_batch prompts x numSamples(). */
  public int rolloutSamples() {
    return schedule.rolloutBatch() * numSamples();
  }

  /** Optimizer steps of the whole run: iterations x ppo_epochs x minibatches per rollout. */
  public long totalOptimizerSteps() {
    return (long) schedule.iterations() * ppo.ppoEpochs() * (rolloutSamples() / ppo.minibatchSize());
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

  /** The engine's algorithm switches from ppo and generation (max_new_tokens is L_max). */
  public AlgoOptions algoOptions() {
    int maxNew = generation.maxNewTokens();
    boolean overlong = ppo.overlongPenaltyFactor() > 0;
    int buffer = ppo.overlongBufferLen() != null ? ppo.overlongBufferLen() : Math.max(1, maxNew / 5);
    return new AlgoOptions(ppo.estimator(), ppo.scaleRewards(), ppo.klIn(), ppo.klLossEstimator(), ppo.klLossCoef(),
        ppo.lossAgg(), maxNew, ppo.cliprangeLow() == null ? 0 : ppo.cliprangeLow(),
        ppo.cliprangeHigh() == null ? 0 : ppo.cliprangeHigh(), ppo.dualClip() == null ? 0 : ppo.dualClip(),
        ppo.importanceSampling(), ppo.maskTruncated(), overlong ? buffer : 0, overlong ? ppo.overlongPenaltyFactor() : 0);
  }
}
