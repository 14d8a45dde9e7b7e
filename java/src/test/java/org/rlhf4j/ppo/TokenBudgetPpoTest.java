package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * ppo.max_tokens_per_micro_batch against fixed micro-batches (the slow twin): the same rollout
 * learned in micro-batches cut by a token budget takes the same optimizer steps, for every
 * ppo.loss_agg, including a budget below every sample's length (each sample alone). AdamW with
 * eps 1 steps by about lr x gradient (g / (|g| + 1)), so the weights compare the gradients;
 * with a small eps it would magnify float rounding on near-zero gradients to a sign.
 */
class TokenBudgetPpoTest {
  @TempDir Path tmp;

  private PpoRunConfig config(String name, String preset, String lossAgg, String... extra) {
    Path model = tmp.resolve("model");
    if (!model.toFile().exists()) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.txt");
    if (!prompts.toFile().exists()) TinyCheckpoints.prompts(prompts, 20);
    List<String> set = new ArrayList<>(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + tmp.resolve(name), "run.seed=5",
        "reward.kind=function", "reward.function=" + PpoTrainerTest.GoodShare.class.getName(), "ppo.preset=" + preset,
        "ppo.loss_agg=" + lossAgg, "ppo.ppo_epochs=2", "generation.max_new_tokens=6", "generation.num_samples=4",
        "data.max_prompt_tokens=16", "schedule.rollout_batch=4", "ppo.minibatch_size=8", "ppo.micro_batch_size=4",
        "optim.lr=1", "optim.eps=1", "schedule.eval_prompts=0"));
    set.addAll(List.of(extra));
    return PpoRunConfig.loader().load(set);
  }

  private List<float[]> oneIteration(PpoRunConfig cfg) throws IOException {
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      var m = t.step().metrics();
      assertEquals(0.0, m.get("nonfinite/skipped_steps"));
      return PpoTrainerTest.weights(t);
    }
  }

  @ParameterizedTest
  // seq_mean_token_sum is seq_mean_token_sum_norm times generation.max_new_tokens: one stands for both.
  @CsvSource({"standard, token_mean", "grpo, seq_mean_token_mean", "grpo, seq_mean_token_sum_norm"})
  void aTokenBudgetTakesTheStepsOfFixedMicroBatches(String preset, String lossAgg) throws IOException {
    String[] klLoss = preset.equals("grpo") ? new String[] {"ppo.kl_loss_coef=0.1"} : new String[0];
    List<float[]> fixed = oneIteration(config("fixed", preset, lossAgg, klLoss));
    List<String> budget = new ArrayList<>(List.of(klLoss));
    // 30 tokens: one to three samples per micro-batch (a sample here has 2-14 tokens, padded to the longest).
    budget.add("ppo.max_tokens_per_micro_batch=30");
    List<float[]> cut = oneIteration(config("budget", preset, lossAgg, budget.toArray(String[]::new)));
    // 1 token: every sample is longer, so each gets a micro-batch of its own.
    budget.set(budget.size() - 1, "ppo.max_tokens_per_micro_batch=1");
    List<float[]> alone = oneIteration(config("alone", preset, lossAgg, budget.toArray(String[]::new)));
    for (int i = 0; i < fixed.size(); i++) {
      for (int j = 0; j < fixed.get(i).length; j++) {
        assertEquals(fixed.get(i)[j], cut.get(i)[j], 1e-5, "budget 30, tensor " + i + "[" + j + "]");
        assertEquals(fixed.get(i)[j], alone.get(i)[j], 1e-5, "budget 1, tensor " + i + "[" + j + "]");
      }
    }
    assertTrue(fixed.size() > 0);
  }
}
