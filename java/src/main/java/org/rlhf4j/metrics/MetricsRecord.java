package org.rlhf4j.metrics;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One line of metrics.jsonl: the iteration and its metrics under TRL-style namespaced names
 * ({@code objective/kl}, {@code policy/clipfrac}, ...). Values may be NaN or infinite.
 *
 * <p>Immutable; keeps the metrics in the order given.
 */
public record MetricsRecord(long iteration, Map<String, Double> values) {
  /** The key that holds the iteration on each line; no metric may use it. */
  public static final String ITERATION = "iteration";

  public MetricsRecord {
    if (iteration < 0) throw new IllegalArgumentException("metrics: iteration must be >= 0, got " + iteration);
    Objects.requireNonNull(values, "values");
    LinkedHashMap<String, Double> copy = new LinkedHashMap<>();
    values.forEach((k, v) -> {
      if (k == null || k.isEmpty()) throw new IllegalArgumentException("metrics: empty metric name");
      if (k.equals(ITERATION)) {
        throw new IllegalArgumentException("metrics: '" + ITERATION + "' is reserved for the iteration number");
      }
      if (v == null) throw new IllegalArgumentException("metrics: metric '" + k + "' has no value");
      copy.put(k, v);
    });
    values = Collections.unmodifiableMap(copy);
  }

  /** The value of a metric, or NaN when this record does not have it. */
  public double get(String key) {
    return values.getOrDefault(key, Double.NaN);
  }

  /**
   * The points (iteration, value) of one metric across records, in record order, skipping
   * records that lack it: the shape {@link Report.Builder#chart} takes.
   */
  public static List<double[]> series(List<MetricsRecord> records, String key) {
    List<double[]> points = new ArrayList<>();
    for (MetricsRecord r : records) {
      Double v = r.values.get(key);
      if (v != null) points.add(new double[] {r.iteration, v});
    }
    return points;
  }
}
