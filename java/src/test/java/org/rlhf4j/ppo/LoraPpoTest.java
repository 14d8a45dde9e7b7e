package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.train.TokenizerFiles;

/**
 * PPO with LoRA on GPT-2 and Llama: the reference is the policy's base (no second model), the
 * base weights never move, and the toy reward rises as in PpoTrainerTest.
 */
class LoraPpoTest {
  private static final int ITERATIONS = 40;

  @TempDir Path tmp;

  /**
   * A random tiny model whose token embedding (and LM head) is scaled up as training makes
   * it: with GPT-2's 0.02 init every distribution is near uniform whatever the blocks do, and
   * only full fine-tuning, which moves the head itself, could learn. GPT-2's head is its input
   * embedding too, so it takes a smaller factor (a larger one leaves the sampler one token).
   */
  private Path pretrainedLike(ModelConfig config) {
    float factor = config.arch() == ModelConfig.Arch.GPT2 ? 8 : 25;
    Path raw = TinyCheckpoints.write(tmp.resolve("raw"), config);
    Path model = tmp.resolve("model");
    try (Model m = Checkpoint.open(raw).loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      for (TensorInfo t : m.tensors()) {
        if (!t.name().endsWith("wte.weight") && !t.name().endsWith("embed_tokens.weight")
            && !t.name().equals("lm_head.weight")) continue;
        float[] w = m.readFloats(t.name(), t.numel());
        for (int i = 0; i < w.length; i++) w[i] *= factor;
        m.writeFloats(t.name(), w);
      }
      CheckpointWriter w = new CheckpointWriter().model(m);
      TokenizerFiles.copyInto(w, raw);
      w.writeTo(model, false);
    }
    return model;
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama"})
  void aToyRewardRisesWithAdaptersOnAFrozenBase(String arch) throws IOException {
    Path model = pretrainedLike(arch.equals("gpt2") ? TinyCheckpoints.gpt2() : TinyCheckpoints.llama());
    Path prompts = tmp.resolve("prompts.txt");
    TinyCheckpoints.prompts(prompts, 40);
    // lr 5e-3: at 2e-2 the toy policy moved 10-24 nats of KL an iteration, and whether it
    // collapsed onto one bad token turned on the last bits of the matrix products.
    PpoRunConfig cfg = PpoRunConfig.loader().load(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + tmp.resolve("run"), "run.seed=3",
        "reward.kind=function", "reward.function=" + PpoTrainerTest.GoodShare.class.getName(), "ppo.preset=standard",
        "generation.max_new_tokens=6", "data.max_prompt_tokens=16", "schedule.rollout_batch=16", "ppo.minibatch_size=8",
        "ppo.micro_batch_size=4", "optim.lr=5e-3", "ppo.kl_coef=0.02", "schedule.eval_prompts=0",
        "schedule.iterations=" + ITERATIONS, "model.lora.r=8", "model.lora.alpha=16", "model.lora.dropout=0",
        "model.gradient_checkpointing=" + arch.equals("llama")));
    List<PpoTrainer.Iteration> its = new ArrayList<>();
    String baseName = arch.equals("gpt2") ? "transformer.h.0.attn.c_attn.weight" : "model.layers.0.self_attn.q_proj.weight";
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      assertNull(t.parts().reference());
      Model policy = t.parts().policy();
      long numel = policy.tensors().stream().filter(i -> i.name().equals(baseName)).findFirst().orElseThrow().numel();
      float[] before = policy.readFloats(baseName, numel);
      for (int i = 0; i < ITERATIONS; i++) its.add(t.step());
      assertArrayEquals(before, policy.readFloats(baseName, numel), "a base weight moved");
    }
    double first = its.subList(0, 5).stream().mapToDouble(i -> i.metrics().get("objective/scores_raw")).average()
        .orElseThrow();
    double last = its.subList(ITERATIONS - 5, ITERATIONS).stream().mapToDouble(i -> i.metrics().get("objective/scores_raw")).average()
        .orElseThrow();
    assertTrue(last > first + 0.3, arch + ": mean reward went from " + first + " to " + last);
    for (var it : its) {
      assertEquals(0, it.metrics().get("nonfinite/skipped_steps"));
      assertTrue(Double.isFinite(it.metrics().get("objective/kl")));
    }
    assertEquals(0.0, its.get(0).metrics().get("objective/kl"), 1e-4);  // B = 0 at the start: policy = reference
    assertTrue(its.getLast().metrics().get("objective/kl") != 0.0);
  }
}
