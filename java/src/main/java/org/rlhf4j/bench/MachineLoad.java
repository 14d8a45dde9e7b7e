package org.rlhf4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What the rest of the machine did while a benchmark timed itself, so that a figure says
 * whether it is an idle machine's: the share of every CPU's time that went to processes outside
 * this benchmark ({@code others}) and to the hypervisor ({@code steal}), from Linux's /proc/stat
 * and this process tree's own CPU time. On two cores one busy neighbour is 50%; a compile or a
 * test run beside the bench is what this catches.
 *
 * @param others busy share of all CPUs' time not spent by this benchmark's processes, 0 to 1
 * @param steal share of all CPUs' time the hypervisor gave to other machines, 0 to 1
 * @param cpus the CPUs /proc/stat counts
 */
record MachineLoad(double others, double steal, int cpus) {
  /** At this share of others' work or steal or above it, the figures are not called an idle machine's. */
  static final double IDLE_LIMIT = 0.05;

  /**
   * One reading: /proc/stat's summed CPU ticks (busy: user, nice, system, irq, softirq; steal;
   * total: those with idle and iowait), its CPU count, this process tree's CPU seconds, and the
   * wall clock in seconds.
   */
  record Sample(long busy, long steal, long total, int cpus, double ownCpuSeconds, double wallSeconds) {}

  /** /proc/stat's aggregate line and CPU count with the given own CPU time and clock. */
  static Sample parse(List<String> procStat, double ownCpuSeconds, double wallSeconds) {
    String first = procStat.isEmpty() ? "" : procStat.getFirst();
    String[] f = first.trim().split("\\s+");
    if (f.length < 9 || !f[0].equals("cpu")) {
      throw new IllegalArgumentException("/proc/stat: the first line is not the CPUs' sum: '" + first + "'");
    }
    long[] v = new long[8];  // user nice system idle iowait irq softirq steal
    for (int i = 0; i < v.length; i++) v[i] = Long.parseLong(f[i + 1]);
    long busy = v[0] + v[1] + v[2] + v[5] + v[6];
    long total = busy + v[3] + v[4] + v[7];
    int cpus = (int) procStat.stream().filter(l -> l.matches("cpu\\d+\\s.*")).count();
    return new Sample(busy, v[7], total, Math.max(1, cpus), ownCpuSeconds, wallSeconds);
  }

  /** Now, or empty where the machine has no /proc/stat (not Linux) or it cannot be read. */
  static Optional<Sample> sample() {
    try {
      List<String> stat = Files.readAllLines(Path.of("/proc/stat"));
      return Optional.of(parse(stat, ownCpuSeconds(), System.nanoTime() / 1e9));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The load between two readings of the same machine. */
  static MachineLoad between(Sample a, Sample b) {
    double ticks = b.total() - a.total();
    double wall = b.wallSeconds() - a.wallSeconds();
    if (ticks <= 0 || wall <= 0) return new MachineLoad(0, 0, b.cpus());
    double busy = (b.busy() - a.busy()) / ticks;
    double own = (b.ownCpuSeconds() - a.ownCpuSeconds()) / (wall * b.cpus());
    double steal = (b.steal() - a.steal()) / ticks;
    return new MachineLoad(Math.min(1, Math.max(0, busy - own)), Math.max(0, steal), b.cpus());
  }

  /** The load from a reading to now, or empty where the machine cannot be read. */
  static Optional<MachineLoad> since(Optional<Sample> before) {
    Optional<Sample> after = sample();
    return before.isPresent() && after.isPresent() ? Optional.of(between(before.get(), after.get())) : Optional.empty();
  }

  /** The load while work ran, or empty where the machine cannot be read. */
  static Optional<MachineLoad> during(Runnable work) {
    Optional<Sample> before = sample();
    work.run();
    return since(before);
  }

  boolean idle() {
    return worst() < IDLE_LIMIT;
  }

  /** One line for a report: the two shares, and a warning when they are not an idle machine's. */
  String describe() {
    return String.format("other processes %.1f%%, steal %.1f%% of the %d CPUs while measured%s", 100 * others,
        100 * steal, cpus, idle() ? "" : " -- NOT IDLE: these figures are not an idle machine's");
  }

  /** The JSON fields: {@code other_cpu_share}, {@code steal_share} (null where unmeasured). */
  static Map<String, Object> json(Optional<MachineLoad> load) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("other_cpu_share", load.map(MachineLoad::others).orElse(null));
    m.put("steal_share", load.map(MachineLoad::steal).orElse(null));
    return m;
  }

  /** The load a child's JSON reports in the fields of {@link #json}, on a machine of cpus CPUs. */
  static Optional<MachineLoad> fromJson(Map<?, ?> j, int cpus) {
    return j.get("other_cpu_share") instanceof Number o && j.get("steal_share") instanceof Number s
        ? Optional.of(new MachineLoad(o.doubleValue(), s.doubleValue(), cpus)) : Optional.empty();
  }

  /** The report line of a child's load (the PyTorch peer's JSON) on the CPUs this run's own load counted. */
  static String describePeer(Map<?, ?> peer, Optional<MachineLoad> own) {
    return describe(fromJson(peer, own.map(MachineLoad::cpus).orElse(1)));
  }

  /** The larger of the two shares: how far from idle the machine was. */
  double worst() {
    return Math.max(others, steal);
  }

  /** The report line, or that the load is unmeasured. */
  static String describe(Optional<MachineLoad> load) {
    return load.map(MachineLoad::describe).orElse("unmeasured (no /proc/stat)");
  }

  /**
   * CPU seconds of this process and its descendants; for a rank that a launcher started
   * (RANK set), of the launcher's whole tree, so that the other ranks are not "other processes".
   */
  private static double ownCpuSeconds() {
    ProcessHandle self = ProcessHandle.current();
    ProcessHandle root = System.getenv("RANK") != null ? self.parent().orElse(self) : self;
    return Stream.concat(Stream.of(root), root.descendants())
        .mapToDouble(p -> p.info().totalCpuDuration().orElse(Duration.ZERO).toNanos() / 1e9)
        .sum();
  }
}
