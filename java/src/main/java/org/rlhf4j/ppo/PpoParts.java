package org.rlhf4j.ppo;

import java.nio.file.Path;
import org.rlhf4j.agent.AgentRuntime;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.data.PromptPool;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * Everything a PPO run reads and trains. {@link PpoSetup#load} builds it from a config; an
 * embedding service may build it by hand. A {@link PpoTrainer} takes ownership and closes the
 * models.
 *
 * @param policy the actor; with a value head when the critic shares its trunk
 * @param reference the frozen SFT model (never updated), or null when the policy has LoRA
 *     adapters: then the reference is the policy's base (its adapters off)
 * @param critic a separate critic with a value head, or null when it shares the policy's trunk (or
 *     when the estimator is critic-free)
 * @param rewardModel a model with a reward head, or null when rewardFunction scores
 * @param rewardFunction a Java scorer, or null when rewardModel scores
 * @param tokenizer the policy's tokenizer
 * @param prompts the prompt pool (training and held-out prompts)
 * @param policyConfig the policy's config.json, written into checkpoints
 * @param tokenizerDir the directory whose tokenizer files checkpoints copy, or null
 * @param agent the tools and environments of multi-turn episodes, or null for single responses
 * @param chatTemplate the template episodes are rendered with; required with agent, else null
 */
public record PpoParts(
    Model policy,
    Model reference,
    Model critic,
    Model rewardModel,
    RewardFunction rewardFunction,
    Tokenizer tokenizer,
    PromptPool prompts,
    HfConfig policyConfig,
    Path tokenizerDir,
    AgentRuntime agent,
    ChatTemplate chatTemplate)
    implements AutoCloseable {

  /** Parts without an agent: every response is one turn. */
  public PpoParts(Model policy, Model reference, Model critic, Model rewardModel, RewardFunction rewardFunction,
      Tokenizer tokenizer, PromptPool prompts, HfConfig policyConfig, Path tokenizerDir) {
    this(policy, reference, critic, rewardModel, rewardFunction, tokenizer, prompts, policyConfig, tokenizerDir, null,
        null);
  }

  public PpoParts {
    if (policy == null || tokenizer == null || prompts == null || policyConfig == null) {
      throw new IllegalArgumentException("ppo: policy, tokenizer, prompts and policyConfig are required");
    }
    if (reference == null && policy.lora().isEmpty()) {
      throw new IllegalArgumentException("ppo: a reference model is required unless the policy has LoRA adapters");
    }
    if ((rewardModel == null) == (rewardFunction == null)) {
      throw new IllegalArgumentException("ppo: give exactly one of rewardModel and rewardFunction");
    }

    if (agent != null && chatTemplate == null) {
      throw new IllegalArgumentException("ppo: multi-turn episodes (agent) need a chat template");
    }
    if (critic != null && !critic.config().valueHead()) {
      throw new IllegalArgumentException("ppo: the separate critic needs a value head");
    }
    if (rewardModel != null && !rewardModel.config().rewardHead()) {
      throw new IllegalArgumentException("ppo: the reward model has no reward head (score.weight)");
    }
    if (tokenizer.vocabSize() > policy.config().vocabSize()) {
      throw new IllegalArgumentException("ppo: the tokenizer has " + tokenizer.vocabSize()
          + " ids but the policy's vocab_size is " + policy.config().vocabSize());
    }
    if (rewardModel != null && rewardModel.config().vocabSize() < policy.config().vocabSize()) {
      throw new IllegalArgumentException("ppo: the reward model's vocab_size (" + rewardModel.config().vocabSize()
          + ") is below the policy's (" + policy.config().vocabSize() + "): they must share a tokenizer");
    }
  }

  /** Fills REF_LOGPROBS (and with fullKl FULL_KL against the policy) from the reference. */
  public void scoreReference(Rollout rollout, boolean fullKl, double temperature) {
    if (reference == null) {
      rollout.scoreRefBase(policy, temperature, fullKl);
    } else {
      rollout.scoreRef(reference, fullKl ? policy : null, temperature);
    }
  }

  @Override
  public void close() {
    for (Model m : new Model[] {policy, reference, critic, rewardModel}) {
      if (m != null) m.close();
    }
    if (agent != null) agent.close();
  }
}
