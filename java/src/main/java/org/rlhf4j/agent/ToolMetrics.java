package org.rlhf4j.agent;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of tool use across episodes: calls (a call that could not be parsed counts too),
 * errors (unparseable, unknown tool, exception, timeout) and seconds spent in tools. Thread-safe.
 */
public final class ToolMetrics {
  private final LongAdder calls = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder nanos = new LongAdder();

  void call(long elapsedNanos, boolean failed) {
    calls.increment();
    if (failed) errors.increment();
    nanos.add(elapsedNanos);
  }

  void unparsed() {
    calls.increment();
    errors.increment();
  }

  public long calls() {
    return calls.sum();
  }

  public long errors() {
    return errors.sum();
  }

  public double seconds() {
    return nanos.sum() / 1e9;
  }

  /**
   * The counts since the last drain as {@code agent/tool_calls}, {@code agent/tool_errors},
   * {@code agent/tool_seconds}, and zeroes them (for a per-iteration metrics record).
   */
  public Map<String, Double> drain() {
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("agent/tool_calls", (double) calls.sumThenReset());
    out.put("agent/tool_errors", (double) errors.sumThenReset());
    out.put("agent/tool_seconds", nanos.sumThenReset() / 1e9);
    return out;
  }
}
