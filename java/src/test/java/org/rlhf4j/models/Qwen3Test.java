package org.rlhf4j.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.models.LlamaReference.Rope;

/**
 * A Qwen3 loaded from Hugging Face's layout decodes with its KV cache exactly as a full
 * forward pass scores the same tokens (float32 and bf16), and training reaches its q/k norms.
 */
class Qwen3Test {
  /** 4 query heads of 10 over hidden_size 24, 2 kv heads, tied head. */
  private static final LlamaReference.Spec SPEC =
      new LlamaReference.Spec("qwen3", 48, 32, 24, 2, 4, 2, 40, 1e-6, 1e6, Rope.NONE, true, 10);

  @TempDir Path tmp;

  private Model load(DType dtype, long seed) {
    HfTensors w = LlamaReference.randomWeights(SPEC, seed).roundToBf16();
    Path dir = tmp.resolve("qwen3-" + seed);
    HfTensors.writeJson(dir.resolve("config.json"), SPEC.config("float32"));
    w.writeSingle(dir, DType.F32);
    return Checkpoint.open(dir).loadModel("cpu", c -> c.withDtype(dtype), LoadOptions.strict()).model();
  }

  /** Prompts of different lengths (left-padded in the rollout), sampled for 8 tokens. */
  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "BF16"})
  void cachedGenerationEqualsTheFullForward(DType dtype) {
    try (Model m = load(dtype, 21)) {
      List<int[]> prompts = List.of(new int[] {5, 6, 7}, new int[] {8}, new int[] {9, 10, 11, 12, 13});
      GenerateOptions o = GenerateOptions.sampling(8).withTokens(2, -1, 0).withSeed(3);
      try (Rollout r = m.generate(prompts, o)) {
        float[] cached = r.floats(RolloutField.OLD_LOGPROBS);
        byte[] mask = r.bytes(RolloutField.RESPONSE_MASK);
        r.scorePolicy(m, 1.0, Rollout.LOGPROBS);
        float[] full = r.floats(RolloutField.OLD_LOGPROBS);
        int compared = 0;
        for (int i = 0; i < full.length; i++) {
          if (mask[i] == 0) continue;
          assertEquals(full[i], cached[i], 1e-4, "response token " + i);
          compared++;
        }
        assertTrue(compared >= 8, "compared " + compared + " tokens");
      }
    }
  }

  /** Repeated steps on one batch: the loss falls and the q/k norms move with the rest. */
  @Test
  void trainingReachesTheQkNormsAndLowersTheLoss() {
    try (Model m = load(DType.F32, 22); Optimizer opt = Optimizer.create(m, Optimizer.AdamW.defaults())) {
      TokenBatch batch = TokenBatch.rightPadded(List.of(new int[] {3, 4, 5, 6, 7, 8}, new int[] {9, 3, 4}), 0);
      byte[] lossMask = Arrays.copyOf(batch.mask(), batch.mask().length);
      String qNorm = "model.layers.1.self_attn.q_norm.weight";
      String kNorm = "model.layers.0.self_attn.k_norm.weight";
      float[] q0 = m.readFloats(qNorm, 10), k0 = m.readFloats(kNorm, 10);
      double first = 0, last = 0;
      for (int step = 0; step < 8; step++) {
        opt.zeroGrad();
        double loss = m.lmLoss(batch, lossMask, 1.0, true).loss();
        if (step == 0) first = loss;
        last = loss;
        opt.step(1e-2);
      }
      assertTrue(last < first * 0.8, "loss " + first + " -> " + last);
      assertFalse(Arrays.equals(q0, m.readFloats(qNorm, 10)), "q_norm trained");
      assertFalse(Arrays.equals(k0, m.readFloats(kNorm, 10)), "k_norm trained");
    }
  }
}
