package org.rlhf4j.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgressTest {
  /** A clock that moves only when told to. */
  private static final class FakeClock {
    long nanos;

    void advance(Duration d) {
      nanos += d.toNanos();
    }
  }

  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8);
  private final FakeClock clock = new FakeClock();

  private List<String> lines() {
    return buffer.toString(StandardCharsets.UTF_8).lines().toList();
  }

  @Test
  void manyFastStepsPrintOneLinePerTenPercent() {
    try (Progress p = Progress.lines("ppo", 10_000, out, Duration.ofSeconds(30), 10, () -> clock.nanos)) {
      for (int i = 0; i < 10_000; i++) {
        clock.advance(Duration.ofMillis(1));
        p.step();
      }
    }
    List<String> lines = lines();
    assertEquals(12, lines.size(), String.join("\n", lines)); // start, 10%..100%, end
    assertTrue(lines.get(1).startsWith("ppo: 1000/10000 (10%)"), lines.get(1));
    assertTrue(lines.get(1).contains(" eta 9s"), lines.get(1));
    assertEquals("ppo: done, 10000/10000 in 10s", lines.getLast());
  }

  @Test
  void slowStepsPrintAboutOneLinePerInterval() {
    try (Progress p = Progress.lines("sft", 300, out, Duration.ofSeconds(30), 100, () -> clock.nanos)) {
      for (int i = 0; i < 300; i++) {
        clock.advance(Duration.ofSeconds(1));
        p.step();
      }
    }
    // 300 s at one line per 30 s: 10 progress lines (the last one at 100%), plus start and end.
    assertEquals(12, lines().size(), String.join("\n", lines()));
  }

  @Test
  void theMessageShowsTheMetrics() {
    try (Progress p = Progress.lines("ppo", 10, out, Duration.ofHours(1), 50, () -> clock.nanos)) {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("reward", 0.42);
      m.put("kl", 1.3);
      m.put("tok/s", 812.0);
      p.metrics(m);
      p.stepTo(5);
      p.stepTo(7);
    }
    List<String> lines = lines();
    assertEquals(3, lines.size(), String.join("\n", lines));
    assertTrue(lines.get(1).endsWith("| reward 0.42 kl 1.3 tok/s 812"), lines.get(1));
    assertTrue(lines.get(2).startsWith("ppo: stopped, 7/10"), lines.get(2));
  }

  @Test
  void offPrintsNothingAndLinesGoToStderr() {
    PrintStream saved = System.err;
    System.setErr(out);
    try {
      try (Progress p = Progress.start("quiet", 0, 100, Progress.Mode.OFF)) {
        for (int i = 0; i < 100; i++) p.step();
      }
      assertEquals("", buffer.toString(StandardCharsets.UTF_8));
      try (Progress p = Progress.start("rm", 2, 4, Progress.Mode.LINES)) {
        p.stepBy(2);
      }
    } finally {
      System.setErr(saved);
    }
    List<String> lines = lines();
    assertEquals("rm: started, 2/4", lines.getFirst());
    assertTrue(lines.getLast().startsWith("rm: done, 4/4"), lines.getLast());
  }

  @Test
  void modeComesFromTheSystemProperty() {
    String saved = System.getProperty(Progress.MODE_PROPERTY);
    try {
      System.setProperty(Progress.MODE_PROPERTY, "Off");
      assertEquals(Progress.Mode.OFF, Progress.Mode.fromSystemProperty());
      System.setProperty(Progress.MODE_PROPERTY, "fancy");
      var e = assertThrows(IllegalArgumentException.class, Progress.Mode::fromSystemProperty);
      assertTrue(e.getMessage().contains(Progress.MODE_PROPERTY) && e.getMessage().contains("fancy"));
    } finally {
      if (saved == null) System.clearProperty(Progress.MODE_PROPERTY);
      else System.setProperty(Progress.MODE_PROPERTY, saved);
    }
  }

  @Test
  void rejectsABadTotal() {
    assertThrows(IllegalArgumentException.class, () -> Progress.start("x", 0, 0, Progress.Mode.OFF));
    assertThrows(IllegalArgumentException.class, () -> Progress.start("x", 5, 4, Progress.Mode.OFF));
  }

  @Test
  void durationsAreShort() {
    assertEquals("45s", ProgressLines.duration(Duration.ofSeconds(45).toNanos()));
    assertEquals("3m12s", ProgressLines.duration(Duration.ofSeconds(192).toNanos()));
    assertEquals("2h05m", ProgressLines.duration(Duration.ofMinutes(125).toNanos()));
  }
}
