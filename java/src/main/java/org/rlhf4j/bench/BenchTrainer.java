package org.rlhf4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.data.PromptPool;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.MemoryOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.ppo.PpoParts;
import org.rlhf4j.ppo.PpoTrainer;

/**
 * The trainer `rlhf4j ppo` runs, with its defaults, on random weights of the benchmark's shape:
 * --batch prompts of random tokens, minibatches of --minibatch, --epochs epochs; a reward model
 * of the same shape scores. The tokenizer has no EOS, so every response is as long as
 * generation.max_new_tokens allows (or the lengths the GRPO workload forces).
 */
final class BenchTrainer {
  private BenchTrainer() {}

  /**
   * @param sets the workload's config keys (generation, micro-batches, algorithm), over the shared ones
   * @param criticFree no value head and no critic (the GRPO workload's estimator learns none)
   */
  static PpoTrainer create(PpoBench b, DType dt, List<String> sets, boolean criticFree) {
    boolean separate = !criticFree && !b.critic.equals("shared");
    String random = "(random weights)";
    List<String> all = new ArrayList<>(List.of("model.path=" + random, "data.prompts=" + random,
        "reward.kind=model", "reward.model_path=" + random, "run.device=" + b.device, "run.seed=1",
        "model.critic=" + (separate ? "separate" : "shared"), "data.max_prompt_tokens=" + b.promptLen,
        "schedule.rollout_batch=" + b.batch, "schedule.eval_prompts=0", "ppo.minibatch_size=" + b.minibatch,
        "ppo.ppo_epochs=" + b.epochs, "ppo.keep_decoding_logprobs=" + b.keepDecodingLogprobs));
    all.addAll(sets);
    PpoRunConfig config = PpoRunConfig.loader().load(all);
    int newTokens = config.generation().maxNewTokens();
    ModelConfig shape = ModelConfig.gpt2(b.vocab, b.promptLen + newTokens, b.dModel, b.layers, b.heads).withDtype(dt);
    // The same seed: a separate critic starts from the policy's weights, as from one SFT checkpoint.
    List<Model> models = new ArrayList<>();
    try {
      Model policy = add(models, Model.create(shape.withValueHead(!separate && !criticFree).withSeed(1), b.device));
      Model ref = b.loraR > 0 ? null : add(models, Model.create(shape.withSeed(1), b.device));
      Model critic = separate ? add(models, Model.create(shape.withValueHead(true).withSeed(1), b.device)) : null;
      Model reward = add(models, Model.create(shape.withRewardHead(true).withSeed(2), b.device));
      if (b.loraR > 0) policy.addLora(LoraOptions.of(b.loraR, 2.0 * b.loraR));
      if (critic != null && b.loraR > 0) {
        critic.addLora(LoraOptions.of(b.loraR, 2.0 * b.loraR));
        if (b.critic.equals("separate")) critic.shareBase(policy);
      }
      MemoryOptions memory = new MemoryOptions(b.logitsChunk, b.gradientCheckpointing, b.attentionChunk);
      for (Model m : models) m.setMemoryOptions(memory);
      Random rnd = new Random(7);
      List<Prompt> prompts = new ArrayList<>();
      for (int i = 0; i < b.batch; i++) {
        int[] p = new int[b.promptLen];
        for (int t = 0; t < p.length; t++) p[t] = rnd.nextInt(b.vocab);
        prompts.add(new Prompt(i, "", p, Map.of()));
      }
      PpoParts parts = new PpoParts(policy, ref, critic, reward, null, new IdTokenizer(b.vocab),
          PromptPool.of(prompts, List.of(), 1, false), HfConfig.of(policy.config()), null);
      return new PpoTrainer(config, parts);
    } catch (RuntimeException e) {
      models.forEach(Model::close);
      throw e;
    }
  }

  private static Model add(List<Model> models, Model m) {
    models.add(m);
    return m;
  }
}
