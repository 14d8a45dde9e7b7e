package org.rlhf4j.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rlhf4j.config.DpoSection;

/** DPO through the ABI: step 0 is ln 2, a LoRA base is the same reference as a frozen copy, defaults agree. */
class DpoTest {
  // Two pairs: rows 0-1 chosen, rows 2-3 rejected; prompt of 3 tokens, then the completion.
  private static final TokenBatch PAIRS = TokenBatch.rightPadded(List.of(
      new int[] {5, 9, 2, 17, 30, 4}, new int[] {7, 1, 40, 3, 8},
      new int[] {5, 9, 2, 11, 6}, new int[] {7, 1, 40, 22, 23, 24, 25}), 0);

  static byte[] completionMask(TokenBatch b, int promptLength) {
    byte[] m = b.mask().clone();
    for (int r = 0; r < b.batch(); r++) {
      for (int t = 0; t < promptLength; t++) m[r * b.seqLen() + t] = 0;
    }
    return m;
  }

  @Test
  void atStepZeroTheSigmoidLossIsLn2AndEveryRewardZero() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      byte[] mask = completionMask(PAIRS, 3);
      Dpo.SequenceLogps ref = Dpo.sequenceLogps(m, PAIRS, mask);
      assertArrayEquals(new long[] {3, 2, 2, 4}, ref.tokens());
      Dpo.Result r = Dpo.loss(m, PAIRS, mask, ref.logps(), DpoOptions.of(DpoOptions.LossType.SIGMOID, 0.1), 1, false);
      assertEquals(Math.log(2), r.stats().loss(), 1e-6);
      assertEquals(0, r.stats().chosenRewards(), 1e-6);
      assertEquals(0, r.stats().rejectedRewards(), 1e-6);
      assertEquals(2, r.stats().pairs());
      assertArrayEquals(ref.logps(), r.logps(), 1e-6);
    }
  }

  @Test
  void aLoraPolicysBaseWithAdaptersOffIsTheSameReferenceAsAFrozenCopy() {
    try (Model frozen = Model.create(EngineTest.tiny(), "cpu"); Model policy = Model.create(EngineTest.tiny(), "cpu")) {
      byte[] mask = completionMask(PAIRS, 3);
      policy.addLora(new LoraOptions(2, 4, 0, List.of(), false, 1));
      try (Optimizer opt = Optimizer.create(policy, Optimizer.AdamW.defaults())) {
        double[] ref = Dpo.sequenceLogps(frozen, PAIRS, mask).logps();
        Dpo.loss(policy, PAIRS, mask, ref, DpoOptions.of(DpoOptions.LossType.SIGMOID, 0.1), 1, true);
        opt.step(1e-2);
        double[] adapted = Dpo.sequenceLogps(policy, PAIRS, mask).logps();
        assertFalse(java.util.Arrays.equals(ref, adapted), "the step moved the policy");
        policy.setAdaptersEnabled(false);
        assertArrayEquals(ref, Dpo.sequenceLogps(policy, PAIRS, mask).logps(), 0);
        policy.setAdaptersEnabled(true);
        Dpo.Result after = Dpo.loss(policy, PAIRS, mask, ref, DpoOptions.of(DpoOptions.LossType.SIGMOID, 0.1), 1, false);
        assertTrue(after.stats().margins() > 0, "one DPO step on these pairs raises the margin");
      }
    }
  }

  @Test
  void theConfigDefaultsAreTheLibrarysDefaults() {
    assertEquals(DpoOptions.nativeDefaults(), DpoSection.defaults().options());
  }

  @Test
  void aMissingReferenceForASigmoidLossIsAClearError() {
    try (Model m = Model.create(EngineTest.tiny(), "cpu")) {
      byte[] mask = completionMask(PAIRS, 3);
      var e = assertThrows(NativeException.class,
          () -> Dpo.loss(m, PAIRS, mask, null, DpoOptions.of(DpoOptions.LossType.SIGMOID, 0.1), 1, false));
      assertTrue(e.getMessage().contains("need the reference"), e.getMessage());
      double loss = Dpo.loss(m, PAIRS, mask, null, DpoOptions.of(DpoOptions.LossType.SIMPO, 0.1), 1, false).stats().loss();
      assertTrue(Double.isFinite(loss));
    }
  }
}
