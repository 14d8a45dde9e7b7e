package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A bench figure says whether the machine was idle while it was timed: other processes' busy
 * time and the hypervisor's steal, never the benchmark's own.
 */
class MachineLoadTest {
  private static List<String> stat(long user, long system, long idle, long steal) {
    return List.of(String.format("cpu  %d 0 %d %d 0 0 0 %d 0 0", user, system, idle, steal),
        "cpu0 0 0 0 0 0 0 0 0 0 0", "cpu1 0 0 0 0 0 0 0 0 0 0", "intr 0");
  }

  /**
   * One second on two CPUs is 200 ticks. 150 of them busy while this process used 0.5 CPU
   * seconds (a quarter of the capacity): others took half; 10 ticks of steal are 5%.
   */
  @Test
  void othersAreTheBusyTicksLessThisProcessTreesOwnTime() {
    MachineLoad.Sample a = MachineLoad.parse(stat(1000, 500, 3000, 40), 7.0, 100.0);
    MachineLoad.Sample b = MachineLoad.parse(stat(1120, 530, 3040, 50), 7.5, 101.0);
    MachineLoad load = MachineLoad.between(a, b);
    assertEquals(2, load.cpus());
    assertEquals(0.5, load.others(), 1e-12);
    assertEquals(0.05, load.steal(), 1e-12);
    assertFalse(load.idle());
    assertTrue(load.describe().contains("other processes 50.0%, steal 5.0% of the 2 CPUs")
        && load.describe().contains("NOT IDLE"), load.describe());

    MachineLoad.Sample quiet = MachineLoad.parse(stat(1052, 500, 3148, 40), 7.5, 101.0);
    MachineLoad alone = MachineLoad.between(a, quiet);
    assertEquals(0.01, alone.others(), 1e-12, "52 busy ticks of 200, 50 of them this process's");
    assertTrue(alone.idle());
    assertFalse(alone.describe().contains("NOT IDLE"), alone.describe());
  }

  /**
   * The PyTorch peer measures its own load with bench/machine_load.py: on the same two readings
   * it gives the Java bench's shares, so the two sides of a ratio are judged alike.
   */
  @Test
  void thePytorchPeersTwinGivesTheSameShares(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    List<String> before = stat(1000, 500, 3000, 40), after = stat(1120, 530, 3040, 50);
    java.nio.file.Files.write(dir.resolve("before"), before);
    java.nio.file.Files.write(dir.resolve("after"), after);
    Process p = new ProcessBuilder("python3", "bench/machine_load.py", dir.resolve("before").toString(),
        dir.resolve("after").toString(), "0.5", "1.0").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, out);
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out);
    MachineLoad java = MachineLoad.between(MachineLoad.parse(before, 7.0, 100.0), MachineLoad.parse(after, 7.5, 101.0));
    assertEquals(java.others(), json.get("other_cpu_share").asDouble(), 1e-12, out);
    assertEquals(java.steal(), json.get("steal_share").asDouble(), 1e-12, out);
  }

  @Test
  void aFirstLineThatIsNotTheCpusSumIsRefusedByName() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> MachineLoad.parse(List.of("intr 0 0", "cpu0 1 2 3 4 5 6 7 8"), 0, 0));
    assertTrue(e.getMessage().startsWith("/proc/stat: the first line is not the CPUs' sum"), e.getMessage());
  }

  /** A child's JSON fields give its load; without them it is unmeasured. */
  @Test
  void aChildsLoadIsReadFromItsJsonFields() {
    MachineLoad load = MachineLoad.fromJson(java.util.Map.of("other_cpu_share", 0.2, "steal_share", 0.0), 2).orElseThrow();
    assertEquals(0.2, load.worst(), 1e-12);
    assertTrue(MachineLoad.fromJson(java.util.Map.of("total_seconds", 1.0), 2).isEmpty());
    assertEquals("unmeasured (no /proc/stat)", MachineLoad.describe(Optional.empty()));
  }

  /**
   * A process spinning beside a timed second shows as other processes' load, about one CPU's
   * share; this test's own spinning thread in the same window does not add to it.
   */
  @Test
  void aBusyNeighbourIsSeenWhileOwnWorkIsNot() throws Exception {
    Assumptions.assumeTrue(MachineLoad.sample().isPresent(), "no /proc/stat here");
    // Not this process's child (its tree's time is its own): the shell starts the loop and exits.
    Process shell = new ProcessBuilder("sh", "-c", "while :; do :; done >/dev/null 2>&1 & echo $!").start();
    long pid = Long.parseLong(new String(shell.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip());
    assertTrue(shell.waitFor(10, TimeUnit.SECONDS));
    ProcessHandle neighbour = ProcessHandle.of(pid).orElseThrow();
    try {
      MachineLoad load = MachineLoad.during(() -> sleep(1500)).orElseThrow();
      assertTrue(load.others() >= 0.5 / load.cpus(), "one spinning process on " + load.cpus() + " CPUs: " + load);
      assertFalse(load.idle());
    } finally {
      neighbour.destroyForcibly();
      neighbour.onExit().get(10, TimeUnit.SECONDS);
    }
    MachineLoad own = MachineLoad.during(() -> spin(1500)).orElseThrow();
    assertTrue(own.others() < 0.5 / own.cpus(), "this process's own work is not another's: " + own);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void spin(long ms) {
    long end = System.nanoTime() + ms * 1_000_000;
    double x = 0;
    while (System.nanoTime() < end) x += Math.sqrt(x + 1);
    if (x < 0) throw new AssertionError();
  }
}
