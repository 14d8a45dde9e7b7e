package org.rlhf4j.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

/** Section {@code run}: where the run writes, its seed, its device and its failure policy. */
public record RunSection(
    @Doc("Run directory: checkpoints, metrics.jsonl and the effective config.yaml go here.") Path out,
    @Doc("Seed of every random choice: initialisation, sampling, shuffling, the eval split.") long seed,
    @Doc("Where tensors live: cpu, cuda or cuda:N.") String device,
    @Doc("CPU threads of the native library (0 = all cores).") int threads,
    @Doc("NaN or Inf in a loss, reward or gradient: skip that step, or stop the run.") OnNonFinite onNonfinite,
    @Doc("Continue from the latest checkpoint in the run directory when there is one.") boolean resume,
    @Doc("Data parallelism: how long the rendezvous and every collective may wait for the other ranks"
        + " before the run fails naming the lost rank.") Duration distTimeout) {

  private static final Pattern DEVICE = Pattern.compile("cpu|cuda(:\\d+)?");

  /** What happens when a step produces a NaN or an infinity. */
  public enum OnNonFinite {
    /** Drop the step's update, count it in the metrics, go on. */
    SKIP,
    /** Stop the run with an error (the last checkpoint stays). */
    STOP
  }

  public RunSection {
    Check.notNull("out", out);
    Check.notNull("device", device);
    if (!DEVICE.matcher(device).matches()) {
      throw new ConfigException("device must be cpu, cuda or cuda:N, got '" + device + "'");
    }
    Check.atLeast("threads", threads, 0);
    Check.notNull("on_nonfinite", onNonfinite);
    Check.notNull("dist_timeout", distTimeout);
    if (distTimeout.isNegative() || distTimeout.toMillis() < 1) {
      throw new ConfigException("dist_timeout must be > 0, got " + Durations.format(distTimeout));
    }
  }

  /** Seed 0 on the CPU with all cores, skipping non-finite steps, no resume, 10 minutes for peers. */
  public static RunSection defaults(Path out) {
    return new RunSection(out, 0, "cpu", 0, OnNonFinite.SKIP, false, Duration.ofMinutes(10));
  }
}
