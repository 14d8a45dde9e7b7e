package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.RewardTerms;
import org.rlhf4j.config.RewardTerms.Term;

/**
 * Several reward functions with weights (reward.functions): the score is sum_k weight_k *
 * f_k(prompt, response, fields); each f_k's own value is kept for metrics (reward/LABEL) and
 * dumps. Called from the training thread only.
 */
public final class WeightedRewards implements RewardFunction {
  private final List<String> labels = new ArrayList<>();
  private final List<Double> weights = new ArrayList<>();
  private final List<RewardFunction> functions = new ArrayList<>();

  /** Built-ins by name, Java classes by {@link RewardFunctions#instantiate}. */
  public static WeightedRewards of(RewardTerms terms) {
    WeightedRewards w = new WeightedRewards();
    for (Term t : terms.terms()) {
      w.add(t.label(), t.weight(), t.name() != null ? BuiltInRewards.of(t) : RewardFunctions.instantiate(t.className()));
    }
    return w;
  }

  /** Adds f under label with weight. */
  public WeightedRewards add(String label, double weight, RewardFunction f) {
    if (labels.contains(label)) throw new IllegalArgumentException("reward functions: label '" + label + "' twice");
    labels.add(label);
    weights.add(weight);
    functions.add(f);
    return this;
  }

  public List<String> labels() {
    return List.copyOf(labels);
  }

  /** Each function's value (unweighted), in labels() order. */
  public double[] values(String prompt, String response, Map<String, Object> fields) {
    double[] out = new double[functions.size()];
    for (int k = 0; k < out.length; k++) out[k] = functions.get(k).score(prompt, response, fields);
    return out;
  }

  /** The weighted sum of values. */
  public double combine(double[] values) {
    double s = 0;
    for (int k = 0; k < values.length; k++) s += weights.get(k) * values[k];
    return s;
  }

  @Override
  public double score(String prompt, String response, Map<String, Object> fields) {
    return combine(values(prompt, response, fields));
  }
}
