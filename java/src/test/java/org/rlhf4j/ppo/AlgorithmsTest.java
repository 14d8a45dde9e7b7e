package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * GRPO, Dr. GRPO, DAPO, RLOO and REINFORCE++ through the one PPO loop on a tiny model: no
 * critic is made, the first pass is on-policy, GRPO learns a toy reward, dynamic sampling
 * refills its batch and stops at its bound.
 */
class AlgorithmsTest {
  /** Every response scores the same: every group has zero variance. */
  public static final class Constant implements RewardFunction {
    @Override
    public double score(String prompt, String response, Map<String, Object> fields) {
      return 1.0;
    }
  }

  /** Constant on prompts starting with "the" (their groups are dropped), else the response's word count. */
  public static final class HalfConstant implements RewardFunction {
    @Override
    public double score(String prompt, String response, Map<String, Object> fields) {
      return prompt.startsWith("the") ? 0.0 : response.trim().split("\\s+").length;
    }
  }

  @TempDir Path tmp;

  private PpoRunConfig config(String preset, Class<?> reward, String... extra) {
    Path model = tmp.resolve("model");
    if (!model.toFile().exists()) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.txt");
    if (!prompts.toFile().exists()) TinyCheckpoints.prompts(prompts, 40);
    List<String> set = new ArrayList<>(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + tmp.resolve("run-" + preset), "run.seed=3",
        "reward.kind=function", "reward.function=" + reward.getName(), "ppo.preset=" + preset,
        "generation.max_new_tokens=6", "generation.num_samples=4", "data.max_prompt_tokens=16",
        "schedule.rollout_batch=4", "ppo.minibatch_size=16", "ppo.micro_batch_size=8", "optim.lr=3e-3",
        "schedule.eval_prompts=0"));
    set.addAll(List.of(extra));
    return PpoRunConfig.loader().load(set);
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp"})
  void criticFreePresetsMakeNoCriticAndStartOnPolicy(String preset) throws IOException {
    PpoRunConfig cfg = config(preset, PpoTrainerTest.GoodShare.class, "ppo.max_resample_batches=1");
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      assertFalse(t.parts().policy().config().valueHead(), preset + ": the policy got a value head");
      assertNull(t.parts().critic(), preset);
      for (int i = 0; i < 3; i++) {
        var m = t.step().metrics();
        // One epoch, one minibatch of the whole rollout: the learner sees the sampling policy.
        assertEquals(1.0, m.get("policy/ratio_mean"), 1e-4, preset + " iteration " + (i + 1));
        assertEquals(0.0, m.get("policy/clipfrac"), preset + " iteration " + (i + 1));
        for (var e : m.entrySet()) assertTrue(Double.isFinite(e.getValue()), preset + ": " + e.getKey());
        assertEquals(0.0, m.get("nonfinite/skipped_steps"));
      }
    }
  }

  @Test
  void grpoLearnsAToyReward() throws IOException {
    PpoRunConfig cfg = config("grpo", PpoTrainerTest.GoodShare.class, "schedule.iterations=30");
    List<Double> scores = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      for (int i = 0; i < 30; i++) scores.add(t.step().metrics().get("objective/scores_raw"));
    }
    double first = scores.subList(0, 5).stream().mapToDouble(d -> d).average().orElseThrow();
    double last = scores.subList(25, 30).stream().mapToDouble(d -> d).average().orElseThrow();
    assertTrue(last > first + 0.3, "grpo: mean reward went from " + first + " to " + last);
  }

  @Test
  void dynamicSamplingRefillsTheBatchWithGroupsThatVary() throws IOException {
    PpoRunConfig cfg = config("dapo", HalfConstant.class, "ppo.max_resample_batches=10");
    List<Map<Integer, List<Float>>> batches = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      t.addRolloutObserver((it, prompts, rollout) -> {
        float[] groups = rollout.floats(RolloutField.GROUP_ID), scores = rollout.floats(RolloutField.SCORES);
        Map<Integer, List<Float>> byGroup = new HashMap<>();
        for (int i = 0; i < groups.length; i++) byGroup.computeIfAbsent((int) groups[i], g -> new ArrayList<>()).add(scores[i]);
        batches.add(byGroup);
      });
      var m = t.step().metrics();
      assertTrue(m.get("dynamic/dropped_groups") >= 1, "the 'the ...' prompts' groups are constant: " + m);
      assertEquals(0.0, m.get("dynamic/filled_groups"), "enough rounds to fill the batch: " + m);
      assertTrue(m.get("dynamic/sampling_rounds") >= 2, m.toString());
    }
    Map<Integer, List<Float>> batch = batches.get(0);
    assertEquals(4, batch.size(), "rollout_batch groups");
    for (List<Float> g : batch.values()) {
      assertEquals(4, g.size());
      assertTrue(g.stream().distinct().count() > 1, "a kept group varies: " + g);
    }
  }

  @Test
  void dynamicSamplingStopsAtItsBoundAndTrainsOnTheBatchItHas() throws IOException {
    // Without overlong shaping, so that constant scores stay constant rewards.
    PpoRunConfig cfg = config("dapo", Constant.class, "ppo.max_resample_batches=2", "ppo.overlong_penalty_factor=0");
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      long before = t.parts().prompts().cursor().position();
      var m = t.step().metrics();
      assertEquals(3.0, m.get("dynamic/sampling_rounds"), "1 + max_resample_batches rounds");
      assertEquals(12.0, m.get("dynamic/dropped_groups"));
      assertEquals(4.0, m.get("dynamic/filled_groups"));
      assertEquals(4.0, m.get("groups/zero_variance"));
      assertEquals(0.0, m.get("advantages/mean"));
      assertTrue(Double.isFinite(m.get("loss/total")));
      assertEquals(12, t.parts().prompts().cursor().position() - before, "three rounds of 4 prompts drawn");
    }
  }
}
