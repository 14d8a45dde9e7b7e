package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.train.NonFiniteException;

/** The PPO loop on a tiny model with a toy reward: it learns, resumes exactly, survives NaN. */
class PpoTrainerTest {
  /** Reward: the share of response words that are "good". */
  public static final class GoodShare implements RewardFunction {
    @Override
    public double score(String prompt, String response, Map<String, Object> fields) {
      String[] words = response.trim().split("\\s+");
      long good = java.util.Arrays.stream(words).filter(w -> w.equals("good")).count();
      return words.length == 0 ? 0 : (double) good / words.length;
    }
  }

  /** GoodShare that asks the trainer in STOP to stop while it scores the AT-th sample. */
  public static final class StopWhileScoring implements RewardFunction {
    static volatile PpoTrainer stop;
    static volatile int at;
    private int calls;

    @Override
    public double score(String prompt, String response, Map<String, Object> fields) {
      if (++calls == at && stop != null) stop.requestStop();
      return new GoodShare().score(prompt, response, fields);
    }
  }

  /** Every 5th call returns NaN, as a buggy scorer would. */
  public static final class SometimesNaN implements RewardFunction {
    private int calls;

    @Override
    public double score(String prompt, String response, Map<String, Object> fields) {
      return ++calls % 5 == 0 ? Double.NaN : 1.0;
    }
  }

  @TempDir Path tmp;

  private PpoRunConfig config(Path out, String preset, Class<?> reward, String... extra) {
    Path model = tmp.resolve("model");
    if (!model.toFile().exists()) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.txt");
    if (!prompts.toFile().exists()) TinyCheckpoints.prompts(prompts, 40);
    List<String> set = new ArrayList<>(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + out, "run.seed=3",
        "reward.kind=function", "reward.function=" + reward.getName(), "ppo.preset=" + preset,
        "generation.max_new_tokens=6", "data.max_prompt_tokens=16", "schedule.rollout_batch=16", "ppo.minibatch_size=8",
        "ppo.micro_batch_size=4", "optim.lr=3e-3", "ppo.kl_coef=0.02", "schedule.eval_prompts=0"));
    set.addAll(List.of(extra));
    return PpoRunConfig.loader().load(set);
  }

  private static double meanScore(List<PpoTrainer.Iteration> its) {
    return its.stream().mapToDouble(i -> i.metrics().get("objective/scores_raw")).average().orElseThrow();
  }

  @ParameterizedTest
  @ValueSource(strings = {"seed", "standard"})
  void aToyRewardRisesWhileKlStaysFinite(String preset) throws IOException {
    PpoRunConfig cfg = config(tmp.resolve("run-" + preset), preset, GoodShare.class, "schedule.iterations=40");
    List<PpoTrainer.Iteration> its = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      for (int i = 0; i < 40; i++) its.add(t.step());
    }
    double first = meanScore(its.subList(0, 5)), last = meanScore(its.subList(35, 40));
    assertTrue(last > first + 0.3, preset + ": mean reward went from " + first + " to " + last);
    for (var it : its) {
      assertTrue(Double.isFinite(it.metrics().get("objective/kl")), "KL at iteration " + it.iteration());
      assertEquals(0, it.metrics().get("nonfinite/skipped_steps"));
    }
    // The policy moves within an iteration's epochs, but not far (1.054 here with seed; the tolerance
    // leaves room for the draws of another seed scheme, not for a broken ratio).
    assertEquals(1.0, its.get(0).metrics().get("policy/ratio_mean"), 0.1);
  }

  static List<float[]> weights(PpoTrainer t) {
    List<float[]> out = new ArrayList<>();
    for (TensorInfo info : t.parts().policy().tensors()) {
      out.add(t.parts().policy().readFloats(info.name(), info.numel()));
    }
    return out;
  }

  @Test
  void resumingHalfWayGivesBitwiseTheSameWeights() throws IOException {
    String[] common = {"reward.score_norm=true", "ppo.adaptive_kl=true", "schedule.checkpoint_every=2",
        "schedule.keep_checkpoints=1"};
    PpoRunConfig straight = config(tmp.resolve("straight"), "standard", GoodShare.class,
        concat(common, "schedule.iterations=4"));
    List<float[]> expected;
    List<Double> expectedKl = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(straight, PpoSetup.load(straight))) {
      t.addListener(it -> expectedKl.add(it.metrics().get("objective/kl")));
      t.run();
      expected = weights(t);
    }
    PpoRunConfig half = config(tmp.resolve("halves"), "standard", GoodShare.class,
        concat(common, "schedule.iterations=2"));
    try (PpoTrainer t = new PpoTrainer(half, PpoSetup.load(half))) {
      t.run();
    }
    PpoRunConfig rest = config(tmp.resolve("halves"), "standard", GoodShare.class,
        concat(common, "schedule.iterations=4", "run.resume=true"));
    List<Double> resumedKl = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(rest, PpoSetup.load(rest))) {
      assertEquals(2, t.iteration());
      t.addListener(it -> resumedKl.add(it.metrics().get("objective/kl")));
      t.run();
      assertEquals(4, t.iteration());
      List<float[]> got = weights(t);
      for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), got.get(i), "tensor " + i);
    }
    assertEquals(expectedKl.subList(2, 4), resumedKl);
  }

  @Test
  void aStopWhileSamplingGivesTheIterationUpAndResumeContinuesBitwise() throws IOException {
    String[] common = {"reward.score_norm=true", "ppo.adaptive_kl=true", "schedule.iterations=4",
        "schedule.checkpoint_every=4"};
    PpoRunConfig straight = config(tmp.resolve("straight"), "standard", StopWhileScoring.class, common);
    List<float[]> expected;
    try (PpoTrainer t = new PpoTrainer(straight, PpoSetup.load(straight))) {
      StopWhileScoring.stop = null;
      t.run();
      expected = weights(t);
    }
    PpoRunConfig cut = config(tmp.resolve("cut"), "standard", StopWhileScoring.class, common);
    try (PpoTrainer t = new PpoTrainer(cut, PpoSetup.load(cut))) {
      StopWhileScoring.stop = t;
      StopWhileScoring.at = 2 * 16 + 5;  // while sampling iteration 3 (16 samples an iteration)
      t.run();
      assertEquals(2, t.iteration(), "iteration 3 was given up, not finished");
    } finally {
      StopWhileScoring.stop = null;
    }
    assertEquals(2, MetricsLog.read(tmp.resolve("cut/metrics.jsonl")).size());
    PpoRunConfig rest = config(tmp.resolve("cut"), "standard", StopWhileScoring.class, concat(common, "run.resume=true"));
    try (PpoTrainer t = new PpoTrainer(rest, PpoSetup.load(rest))) {
      assertEquals(2, t.iteration());
      t.run();
      List<float[]> got = weights(t);
      for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), got.get(i), "tensor " + i);
    }
    var a = MetricsLog.read(tmp.resolve("straight/metrics.jsonl"));
    var b = MetricsLog.read(tmp.resolve("cut/metrics.jsonl"));
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).get("objective/scores"), b.get(i).get("objective/scores"), "line " + i);
    }
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void aNanRewardSkipsTheIterationAndWeightsStayFinite() throws IOException {
    PpoRunConfig cfg = config(tmp.resolve("nan"), "standard", SometimesNaN.class, "schedule.iterations=3");
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      PpoTrainer.Iteration it = t.step();
      assertEquals(1.0, it.metrics().get("nonfinite/skipped_iterations"));
      for (TensorInfo info : t.parts().policy().tensors()) {
        for (float w : t.parts().policy().readFloats(info.name(), info.numel())) assertTrue(Float.isFinite(w));
      }
    }
    PpoRunConfig stop = config(tmp.resolve("nan-stop"), "standard", SometimesNaN.class, "run.on_nonfinite=stop");
    try (PpoTrainer t = new PpoTrainer(stop, PpoSetup.load(stop))) {
      NonFiniteException e = assertThrows(NonFiniteException.class, t::step);
      assertTrue(e.getMessage().contains("iteration 1: a score is NaN or Inf"), e.getMessage());
    }
  }
}
