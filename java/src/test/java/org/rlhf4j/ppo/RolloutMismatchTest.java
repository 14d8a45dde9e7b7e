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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.config.RolloutCorrection;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * The rollout correction's definitions (TRL's vllm_importance_sampling_*) on constructed
 * log-probs, and runs with each mode: the metrics appear, and the weights reach the policy loss.
 */
class RolloutMismatchTest {
  // Two rows of two columns: row 0 has d = learner - sampling = 0.5 and -1; row 1 has d = 0, then padding.
  private static final float[] LEARNER = {-1f, -2f, -0.5f, 0f};
  private static final float[] SAMPLING = {-1.5f, -1f, -0.5f, -9f};
  private static final byte[] MASK = {1, 1, 1, 0};

  private static RolloutMismatch.Local weigh(RolloutCorrection mode, Double min, double max) {
    return RolloutMismatch.weigh(LEARNER, SAMPLING, MASK, 2, mode, min, max);
  }

  private static void assertWeights(double[] expected, float[] got) {
    assertEquals(expected.length, got.length);
    for (int i = 0; i < got.length; i++) assertEquals(expected[i], got[i], 1e-6, "weight " + i);
  }

  @Test
  void tokenTruncateClampsEachTokensRatio() {
    RolloutMismatch.Local l = weigh(RolloutCorrection.TOKEN_TRUNCATE, null, 1.5);
    assertWeights(new double[] {1.5, Math.exp(-1), 1, 0}, l.weights());
    assertEquals(1.5, l.absDiffSum(), 1e-6);
    assertEquals(3, l.tokens());
    assertEquals(1.0, l.absDiffMax(), 1e-6);
    assertEquals(Math.exp(-1), l.ratioMin(), 1e-6);
    assertEquals(1.5, l.ratioMax(), 1e-6);
    assertEquals(1.5 + Math.exp(-1) + 1, l.ratioSum(), 1e-6);
    assertEquals(3, l.ratios());
  }

  @Test
  void tokenMaskZeroesTokensOutsideTheBounds() {
    RolloutMismatch.Local l = weigh(RolloutCorrection.TOKEN_MASK, 0.5, 1.5);
    assertWeights(new double[] {0, 0, 1, 0}, l.weights());
    assertEquals(0, l.ratioMin());
    assertEquals(1, l.ratioMax(), 1e-6);
  }

  @Test
  void sequenceModesWeighEveryTokenByExpOfTheSumOverTheResponse() {
    RolloutMismatch.Local t = weigh(RolloutCorrection.SEQUENCE_TRUNCATE, 0.5, 1.5);
    double row0 = Math.exp(0.5 - 1);
    assertWeights(new double[] {row0, row0, 1, 0}, t.weights());
    assertEquals(2, t.ratios(), "one ratio per sequence");
    assertEquals(row0 + 1, t.ratioSum(), 1e-6);
    assertEquals(row0, t.ratioMin(), 1e-6);
    assertWeights(new double[] {0.7, 0.7, 1, 0}, weigh(RolloutCorrection.SEQUENCE_TRUNCATE, 0.7, 1.5).weights());
    assertWeights(new double[] {0, 0, 1, 0}, weigh(RolloutCorrection.SEQUENCE_MASK, 0.7, 1.5).weights());
  }

  @Test
  void noneMeasuresTheRawRatios() {
    RolloutMismatch.Local l = weigh(RolloutCorrection.NONE, 0.5, 1.5);
    assertEquals(Math.exp(0.5), l.ratioMax(), 1e-6);
    assertEquals(Math.exp(-1), l.ratioMin(), 1e-6);
  }

  @TempDir Path tmp;

  private Map<String, Double> oneIteration(String name, String... extra) throws IOException {
    Path model = tmp.resolve("model");
    if (!model.toFile().exists()) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.txt");
    if (!prompts.toFile().exists()) TinyCheckpoints.prompts(prompts, 20);
    List<String> set = new ArrayList<>(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + tmp.resolve(name), "run.seed=5",
        "reward.kind=function", "reward.function=" + PpoTrainerTest.GoodShare.class.getName(), "ppo.ppo_epochs=1",
        "generation.max_new_tokens=6", "generation.num_samples=4", "data.max_prompt_tokens=16",
        "schedule.rollout_batch=4", "ppo.minibatch_size=16", "ppo.micro_batch_size=16", "schedule.eval_prompts=0"));
    set.addAll(List.of(extra));
    PpoRunConfig cfg = PpoRunConfig.loader().load(set);
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      return t.step().metrics();
    }
  }

  /**
   * One optimizer step on the whole rollout with the seed algorithm (advantages not whitened, so
   * the policy loss is not ~0 as a group- or batch-centred one is), learning on-policy.
   */
  @Test
  void everyModeRunsAndItsWeightsReachThePolicyLoss() throws IOException {
    Map<String, Double> off = oneIteration("off");
    assertTrue(off.keySet().stream().noneMatch(k -> k.startsWith("sampling/")), "no recomputation, no metrics");
    Map<String, Double> logged = oneIteration("logged", "ppo.log_rollout_mismatch=true");
    // float32: decoding and the learner's forward agree to rounding, so r is 1.
    assertTrue(logged.get("sampling/sampling_logp_difference/max") < 1e-4, logged.toString());
    assertEquals(1.0, logged.get("sampling/importance_sampling_ratio/mean"), 1e-4);
    assertEquals(off.get("loss/policy"), logged.get("loss/policy"), 1e-5);
    for (String mode : List.of("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")) {
      Map<String, Double> m = oneIteration(mode, "ppo.rollout_correction=" + mode);
      assertEquals(1.0, m.get("sampling/importance_sampling_ratio/min"), 1e-3, mode);
      assertEquals(off.get("loss/policy"), m.get("loss/policy"), 1e-5, mode + ": r = 1 weighs nothing");
    }
    // Bounds that every r ~ 1 passes: truncating to 0.5 halves the policy loss, masking drops it.
    Map<String, Double> half = oneIteration("half", "ppo.rollout_correction=token_truncate",
        "ppo.rollout_correction_max=0.5");
    assertEquals(0.5, half.get("sampling/importance_sampling_ratio/max"), 1e-6);
    assertEquals(0.5 * off.get("loss/policy"), half.get("loss/policy"), 1e-5);
    Map<String, Double> none = oneIteration("masked", "ppo.rollout_correction=sequence_mask",
        "ppo.rollout_correction_max=0.5");
    assertEquals(0.0, none.get("sampling/importance_sampling_ratio/max"));
    assertEquals(0.0, none.get("loss/policy"), 1e-12);
    assertTrue(Math.abs(off.get("loss/policy")) > 1e-4, "the policy loss is not 0 to begin with: " + off);
  }

  /**
   * bf16: generation already replaces its decoding log-probs by the learner's pass (they round
   * differently) and keeps them, so the mismatch is measured, and it is not 0.
   */
  @Test
  void aBf16RolloutKeepsItsDecodingLogprobsAndShowsTheirMismatch() throws IOException {
    Map<String, Double> m = oneIteration("bf16", "model.dtype=bf16", "ppo.log_rollout_mismatch=true");
    double diff = m.get("sampling/sampling_logp_difference/max");
    assertTrue(diff > 0 && diff < 1, "bf16 decoding rounds otherwise than the forward pass: " + m);
    assertEquals(1.0, m.get("sampling/importance_sampling_ratio/mean"), 0.1);
  }

  /**
   * ppo.keep_decoding_logprobs (verl's bypass mode): a bf16 rollout keeps the log-probs it decoded
   * with, so the one minibatch's PPO ratio measures the sampling policy's rounding (it is 1 to
   * rounding after the default's recomputing pass); it refuses a correction it cannot compute.
   */
  @Test
  void keepingBf16DecodingLogprobsSkipsTheRecomputationAndTheRatioShowsTheMismatch() throws IOException {
    Map<String, Double> recomputed = oneIteration("bf16-recomputed", "model.dtype=bf16");
    Map<String, Double> kept = oneIteration("bf16-kept", "model.dtype=bf16", "ppo.keep_decoding_logprobs=true");
    assertTrue(recomputed.get("policy/ratio_var") < 1e-8, recomputed.toString());
    assertTrue(kept.get("policy/ratio_var") > 100 * Math.max(1e-12, recomputed.get("policy/ratio_var")),
        "decoding's log-probs round otherwise: " + kept);
    assertTrue(Double.isFinite(kept.get("loss/policy")), kept.toString());
    var e = assertThrows(IllegalArgumentException.class,
        () -> oneIteration("refused", "ppo.keep_decoding_logprobs=true", "ppo.rollout_correction=token_truncate"));
    assertTrue(e.getMessage().contains("ppo.keep_decoding_logprobs"), e.getMessage());
  }
}
