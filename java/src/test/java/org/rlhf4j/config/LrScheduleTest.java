package org.rlhf4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  private static final double EPS = 1e-12;

  @Test
  void warmupRisesLinearlyFromZero() {
    LrSchedule s = new LrSchedule(1e-3, 4, Decay.CONSTANT, 0, 10);
    assertEquals(0.0, s.lr(0), EPS);
    assertEquals(0.25e-3, s.lr(1), EPS);
    assertEquals(0.75e-3, s.lr(3), EPS);
    assertEquals(1e-3, s.lr(4), EPS);
    assertEquals(1e-3, s.lr(9), EPS);
    assertEquals(1e-3, s.lr(100), EPS);
  }

  @Test
  void linearFallsToMinRatioAtTheEnd() {
    // warmup 2, total 12: 10 decay steps; progress at step s = (s - 2) / 10.
    LrSchedule s = new LrSchedule(1.0, 2, Decay.LINEAR, 0.1, 12);
    assertEquals(0.5, s.lr(1), EPS);
    assertEquals(1.0, s.lr(2), EPS);
    assertEquals(0.1 + 0.9 * 0.5, s.lr(7), EPS);
    assertEquals(0.1 + 0.9 * 0.1, s.lr(11), EPS);
    assertEquals(0.1, s.lr(12), EPS);
    assertEquals(0.1, s.lr(50), EPS);
  }

  @Test
  void cosineFollowsHalfACosine() {
    LrSchedule s = new LrSchedule(2.0, 0, Decay.COSINE, 0, 4);
    assertEquals(2.0, s.lr(0), EPS);
    assertEquals(2.0 * 0.5 * (1 + Math.sqrt(0.5)), s.lr(1), EPS); // cos(pi/4)
    assertEquals(1.0, s.lr(2), EPS);
    assertEquals(2.0 * 0.5 * (1 - Math.sqrt(0.5)), s.lr(3), EPS);
    assertEquals(0.0, s.lr(4), EPS);
  }

  @Test
  void ppoScheduleCountsOptimizerSteps() {
    PpoRunConfig c = PpoRunConfig.loader().load(java.util.List.of("model.path=m", "reward.model_path=r",
        "data.prompts=p", "schedule.iterations=5", "schedule.warmup_steps=4", "schedule.decay=linear"));
    // 5 iterations x 4 epochs x (16 / 8) minibatches.
    assertEquals(40, c.totalOptimizerSteps());
    assertEquals(1.41e-5 * 0.5, c.lrSchedule().lr(2), EPS);
    assertEquals(1.41e-5 * (1 - 18.0 / 36), c.lrSchedule().lr(22), EPS);
  }

  @Test
  void rejectsWarmupAsLongAsTheRun() {
    assertEquals("warmup_steps (10) must be less than the total optimizer steps (10)",
        assertThrows(ConfigException.class, () -> new LrSchedule(1, 10, Decay.LINEAR, 0, 10)).getMessage());
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 0, Decay.LINEAR, 0, 10).lr(-1));
  }
}
