package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The KL controllers follow Ziegler et al.'s update rule. */
class KlControllerTest {
  @Test
  void adaptiveFollowsTheProportionalRule() {
    var c = new KlController.Adaptive(0.2, 6.0, 10000);
    // KL 9: error clip(9/6 - 1) = 0.2 (clipped from 0.5); beta *= 1 + 0.2 * 256 / 10000
    c.update(9.0, 256);
    assertEquals(0.2 * (1 + 0.2 * 256 / 10000.0), c.value(), 1e-15);
    // KL 5: error 5/6 - 1 = -1/6; beta *= 1 - (1/6) * 64 / 10000
    double before = c.value();
    c.update(5.0, 64);
    assertEquals(before * (1 + (5.0 / 6 - 1) * 64 / 10000.0), c.value(), 1e-15);
    // KL 0: error clipped to -0.2
    before = c.value();
    c.update(0.0, 100);
    assertEquals(before * (1 - 0.2 * 100 / 10000.0), c.value(), 1e-15);
  }

  @Test
  void fixedNeverMovesAndBothRestore() {
    var f = new KlController.Fixed(0.05);
    f.update(100, 1000);
    assertEquals(0.05, f.value());
    f.restore(0.07);
    assertEquals(0.07, f.value());
    var a = new KlController.Adaptive(0.2, 6, 10000);
    a.restore(0.3);
    assertEquals(0.3, a.value());
  }

  @Test
  void runningMomentsMatchTheWholeSample() {
    RunningMoments m = new RunningMoments();
    float[] a = {1, 2, 3, 4}, b = {10, -2}, c = {0.5f};
    m.update(a);
    m.update(b);
    m.update(c);
    double[] all = {1, 2, 3, 4, 10, -2, 0.5};
    double mean = 0;
    for (double x : all) mean += x / all.length;
    double ss = 0;
    for (double x : all) ss += (x - mean) * (x - mean);
    assertEquals(7, m.count());
    assertEquals(mean, m.mean(), 1e-12);
    assertEquals(ss / all.length, m.var(), 1e-12);
    assertEquals(Math.sqrt(ss / (all.length - 1)), m.std(), 1e-12);
  }
}
