package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** LoRA through the ABI: what trains, what the optimizer holds, adapters off, merging. */
class LoraTest {
  private static final TokenBatch BATCH = TokenBatch.rightPadded(
      List.of(new int[] {5, 9, 2, 17, 30, 4, 11}, new int[] {7, 1, 40, 3}), 0);

  @Test
  void theOptimizerHoldsOnlyAdapterSizedTensorsAndTheValueHead() {
    ModelConfig c = EngineTest.tiny().withValueHead(true);
    try (Model m = Model.create(c, "cpu")) {
      m.addLora(new LoraOptions(2, 4, 0, List.of("c_attn", "mlp.c_proj"), false, 1));
      try (Optimizer opt = Optimizer.create(m, Optimizer.AdamW.defaults())) {
        long stateElements = 0;
        for (TensorInfo t : opt.tensors()) {
          if (t.name().equals("step")) continue;
          assertTrue(t.name().contains(".lora_A.weight.") || t.name().contains(".lora_B.weight.")
              || t.name().startsWith("v_head."), t.name());
          stateElements += t.numel();
        }
        // Per layer: c_attn A [2, 16] + B [48, 2], mlp.c_proj A [2, 64] + B [16, 2]; v_head 16 + 1; two moments.
        long adapters = c.nLayer() * (2 * 16 + 48 * 2 + 2 * 64 + 16 * 2);
        assertEquals(2 * (adapters + 17), stateElements);
      }
    }
  }

  @Test
  void adaptersOffScoreAsTheBaseAndMergingKeepsTheAdaptedScores() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      float[] base = m.score(BATCH, 1.0, false, false).logprobs();
      m.addLora(new LoraOptions(4, 8, 0, List.of(), true, 2));
      assertEquals(List.of("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"), m.lora().orElseThrow().targetModules());
      // Training step on the adapters so they change the model.
      try (Optimizer opt = Optimizer.create(m, Optimizer.AdamW.defaults())) {
        m.lmLoss(BATCH, BATCH.mask(), 1.0, true);
        opt.step(1e-2);
      }
      float[] adapted = m.score(BATCH, 1.0, false, false).logprobs();
      assertFalse(java.util.Arrays.equals(base, adapted));
      m.setAdaptersEnabled(false);
      assertArrayEquals(base, m.score(BATCH, 1.0, false, false).logprobs());
      m.setAdaptersEnabled(true);
      m.mergeLora();
      assertTrue(m.lora().isEmpty());
      assertArrayEquals(adapted, m.score(BATCH, 1.0, false, false).logprobs(), 1e-5f);
      assertTrue(m.tensors().stream().noneMatch(t -> t.name().contains("lora_")));
    }
  }

  @Test
  void unknownTargetModulesAreRejectedWithTheKnownNames() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> m.addLora(new LoraOptions(4, 8, 0, List.of("q_proj"), false, 0)));
      assertTrue(e.getMessage().contains("'q_proj' is no projection of GPT2"), e.getMessage());
    }
  }
}
