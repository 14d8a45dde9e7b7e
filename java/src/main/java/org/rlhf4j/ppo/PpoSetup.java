package org.rlhf4j.ppo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.rlhf4j.agent.AgentRuntime;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.PpoModelSection.Critic;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RewardSection.Kind;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.PromptPool;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;
import org.rlhf4j.train.Adapters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a PPO run's parts from its config: the policy and the frozen reference from the SFT
 * checkpoint (the policy gains a fresh value head when the critic shares its trunk), a separate
 * critic when asked (with LoRA on the policy's own base weights when both come from one
 * checkpoint; no critic at all for critic-free estimators), the reward model or function, the tokenizer and the prompts,
 * and for multi-turn episodes the tools, environment and chat template. Reads only:
 * nothing is written, so a bad path or file fails before a run touches its directory.
 */
public final class PpoSetup {
  private static final Logger LOG = LoggerFactory.getLogger(PpoSetup.class);

  private PpoSetup() {}

  public static PpoParts load(PpoRunConfig config) throws IOException {
    String device = config.run().device();
    DType dtype = config.model().dtype().dtype();
    long seed = config.run().seed();
    Path modelDir = ModelDirs.resolve(config.model().path());
    Tokenizer tokenizer = Tokenizers.load(modelDir);
    Checkpoint sft = Checkpoint.open(modelDir);
    // Critic-free estimators (grpo, rloo, reinforce_pp) learn without a value head: none is made.
    boolean withCritic = config.ppo().estimator().usesCritic();
    boolean shared = withCritic && config.model().critic() == Critic.SHARED;
    List<Model> made = new ArrayList<>();
    AgentRuntime agent = null;
    try {
      Model policy = keep(made, sft.loadModel(device,
          c -> c.withValueHead(shared).withRewardHead(false).withDtype(dtype).withSeed(seed),
          LoadOptions.allowHeadChanges()).model());
      Optional<LoraOptions> lora = config.model().lora().options(seed);
      // With LoRA the reference is the policy's base (adapters off): no second copy of the weights.
      Model reference = null;
      if (lora.isPresent()) {
        Adapters.attach(policy, lora);
      } else {
        reference = keep(made, sft.loadModel(device,
            c -> c.withValueHead(false).withRewardHead(false).withDtype(dtype), LoadOptions.allowHeadChanges()).model());
      }
      Model critic = null;
      if (withCritic && !shared) {
        Path criticDir = ModelDirs.resolve(config.model().criticCheckpoint());
        critic = keep(made, Checkpoint.open(criticDir).loadModel(device,
            c -> c.withValueHead(true).withRewardHead(false).withDtype(dtype).withSeed(seed),
            LoadOptions.allowHeadChanges()).model());
        Adapters.attach(critic, lora);
        if (lora.isPresent()) shareBase(critic, policy, criticDir, modelDir);
      }
      Model rewardModel = null;
      RewardFunction function = null;
      if (config.reward().kind() == Kind.MODEL) {
        // The reward head must come from the checkpoint: a fresh one would score at random.
        rewardModel = keep(made, Checkpoint.open(ModelDirs.resolve(config.reward().modelPath())).loadModel(device,
            c -> c.withRewardHead(true).withValueHead(false).withDtype(dtype), new LoadOptions(false, true)).model());
      } else if (config.reward().kind() == Kind.REMOTE) {
        function = RemoteReward.of(config.reward());
      } else {
        function = config.reward().functions() != null ? WeightedRewards.of(config.reward().functions())
            : RewardFunctions.instantiate(config.reward().function());
      }
      for (Model m : made) {
        m.setMemoryOptions(config.model().memory());
      }
      PromptPool prompts = PromptPool.load(config.data(), seed, tokenizer, new ChatPrompts(modelDir));
      ChatTemplate template = null;
      if (config.agentEnabled()) {
        template = ChatTemplate.load(modelDir).orElseThrow(() -> new IllegalArgumentException("agent: multi-turn"
            + " episodes are rendered with the model's chat template, and " + modelDir + " has none (no"
            + " chat_template.jinja, no chat_template in tokenizer_config.json)"));
        agent = new AgentRuntime(config.agent());
      }
      return new PpoParts(policy, reference, critic, rewardModel, function, tokenizer, prompts, sft.config(),
          modelDir, agent, template);
    } catch (IOException | RuntimeException e) {
      made.forEach(Model::close);
      if (agent != null) agent.close();
      throw e;
    }
  }

  /**
   * With LoRA both bases are frozen: a critic made from the policy's own checkpoint uses the
   * policy's base tensors instead of a second copy (its adapters and value head stay its own).
   */
  private static void shareBase(Model critic, Model policy, Path criticDir, Path policyDir) throws IOException {
    if (!Files.isSameFile(criticDir, policyDir)) {
      LOG.info("critic: its own copy of the base weights: model.critic_path {} is not the policy's checkpoint {}",
          criticDir, policyDir);
      return;
    }
    long bytes = critic.shareBase(policy);
    LOG.info("critic: shares the policy's frozen base weights ({} MB held once)", String.format("%.1f", bytes / 1e6));
  }

  private static Model keep(List<Model> made, Model m) {
    made.add(m);
    return m;
  }
}
