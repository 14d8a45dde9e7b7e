package org.rlhf4j.ppo;

import java.util.Map;
import org.rlhf4j.config.PpoSection;
import org.rlhf4j.config.RolloutCorrection;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Distributed;

/**
 * The rollout/train mismatch (TRL's vllm_importance_sampling_*; verl's rollout_is): the
 * log-probs recorded while decoding against the learner's recomputation of them, and the
 * correction ppo.rollout_correction makes of it. With d_t = learner_t - sampling_t over the
 * response tokens:
 *
 * <pre>
 *   r_t = exp(d_t)                       token modes
 *   r_t = exp(sum_t d_t) for every t     sequence modes
 *   w_t = clamp(r_t, min, max)           *_truncate (no lower bound when min is null)
 *   w_t = r_t, or 0 where r_t &lt; min or r_t &gt; max     *_mask
 * </pre>
 *
 * and w_t multiplies token t's policy loss (native POLICY_LOSS_WEIGHTS). Metrics (TRL's names):
 * sampling/sampling_logp_difference/{mean,max} of |d_t| over the action tokens (the response's,
 * less a multi-turn episode's observations), and sampling/importance_sampling_ratio/{min,mean,max}
 * of w over those tokens (token modes,
 * and r_t itself with rollout_correction none) or over the sequences (sequence modes).
 *
 * <p>Runs only when ppo.rollout_correction is not none or ppo.log_rollout_mismatch is on; then
 * OLD_LOGPROBS become the learner's forward pass over the rollout (as verl and OpenRLHF always
 * recompute them), the decoding ones kept in SAMPLING_LOGPROBS. A bf16/f16 policy's generation
 * already makes that pass (its decoding rounds differently), so it costs nothing more there.
 */
final class RolloutMismatch {
  private RolloutMismatch() {}

  /**
   * This rank's part: the weights [B * R] and the sums and extremes that become the metrics.
   * Extremes of an empty set are NaN.
   */
  record Local(float[] weights, double absDiffSum, long tokens, double absDiffMax, double ratioSum, long ratios,
      double ratioMin, double ratioMax) {}

  /**
   * The weights and statistics of one rollout's [B, R] learner and sampling log-probs over mask
   * (response tokens), flattened row-major with R columns.
   */
  static Local weigh(float[] learner, float[] sampling, byte[] mask, int r, RolloutCorrection mode, Double min,
      double max) {
    int b = r == 0 ? 0 : mask.length / r;
    float[] w = new float[mask.length];
    double absSum = 0, absMax = Double.NaN, ratioSum = 0, ratioMin = Double.NaN, ratioMax = Double.NaN;
    long tokens = 0, ratios = 0;
    for (int i = 0; i < b; i++) {
      double seqDiff = 0;
      int n = 0;
      for (int t = i * r; t < (i + 1) * r; t++) {
        if (mask[t] == 0) continue;
        double d = (double) learner[t] - sampling[t];
        seqDiff += d;
        n++;
        absSum += Math.abs(d);
        absMax = Double.isNaN(absMax) ? Math.abs(d) : Math.max(absMax, Math.abs(d));
      }
      tokens += n;
      for (int t = i * r; t < (i + 1) * r; t++) {
        if (mask[t] == 0) continue;
        double ratio = Math.exp(mode.perSequence() ? seqDiff : (double) learner[t] - sampling[t]);
        double weight = mode == RolloutCorrection.NONE ? ratio : correct(ratio, mode, min, max);
        w[t] = (float) weight;
        if (mode.perSequence()) continue;
        ratioSum += weight;
        ratios++;
        ratioMin = Double.isNaN(ratioMin) ? weight : Math.min(ratioMin, weight);
        ratioMax = Double.isNaN(ratioMax) ? weight : Math.max(ratioMax, weight);
      }
      if (mode.perSequence() && n > 0) {
        double weight = correct(Math.exp(seqDiff), mode, min, max);
        ratioSum += weight;
        ratios++;
        ratioMin = Double.isNaN(ratioMin) ? weight : Math.min(ratioMin, weight);
        ratioMax = Double.isNaN(ratioMax) ? weight : Math.max(ratioMax, weight);
      }
    }
    return new Local(w, absSum, tokens, absMax, ratioSum, ratios, ratioMin, ratioMax);
  }

  /** One importance ratio after the correction: clamped (truncate) or zeroed outside [min, max] (mask). */
  static double correct(double ratio, RolloutCorrection mode, Double min, double max) {
    double low = min == null ? Double.NEGATIVE_INFINITY : min;
    if (mode.masks()) return ratio < low || ratio > max ? 0 : ratio;
    return Math.min(Math.max(ratio, low), max);
  }

  /**
   * When ppo.rollout_correction or ppo.log_rollout_mismatch asks: recomputes the rollout's old
   * log-probs with the policy (unless its generation already did), writes the correction's
   * weights (not with none), and puts the metrics over all ranks into metrics.
   */
  static void apply(PpoSection ppo, Model policy, double temperature, Rollout rollout, Map<String, Double> metrics,
      Distributed dist) {
    if (!ppo.measuresRolloutMismatch()) return;
    DType dtype = policy.config().dtype();
    // bf16/f16 generation replaces its decoding log-probs by this very pass (native generate's rescore).
    if (dtype != DType.BF16 && dtype != DType.F16) rollout.scorePolicy(policy, temperature, Rollout.LOGPROBS);
    Local l = weigh(rollout.floats(RolloutField.OLD_LOGPROBS), rollout.floats(RolloutField.SAMPLING_LOGPROBS),
        actions(rollout), rollout.responseLen(), ppo.rolloutCorrection(), ppo.rolloutCorrectionMin(),
        ppo.rolloutCorrectionMax());
    if (ppo.rolloutCorrection() != RolloutCorrection.NONE) rollout.write(RolloutField.POLICY_LOSS_WEIGHTS, l.weights());
    double[] s = dist.sum(l.absDiffSum(), l.tokens(), l.ratioSum(), l.ratios());
    metrics.put("sampling/sampling_logp_difference/mean", s[1] == 0 ? 0 : s[0] / s[1]);
    metrics.put("sampling/sampling_logp_difference/max", extreme(dist, l.absDiffMax(), true));
    metrics.put("sampling/importance_sampling_ratio/min", extreme(dist, l.ratioMin(), false));
    metrics.put("sampling/importance_sampling_ratio/mean", s[3] == 0 ? 0 : s[2] / s[3]);
    metrics.put("sampling/importance_sampling_ratio/max", extreme(dist, l.ratioMax(), true));
  }

  /**
   * 1 on the tokens the policy sampled: the response mask, less a multi-turn episode's
   * observation tokens (ACTION_MASK, which reads as the response mask when unwritten).
   */
  private static byte[] actions(Rollout rollout) {
    float[] a = rollout.floats(RolloutField.ACTION_MASK);
    byte[] r = rollout.bytes(RolloutField.RESPONSE_MASK);
    byte[] out = new byte[r.length];
    for (int i = 0; i < out.length; i++) out[i] = (byte) (r[i] != 0 && a[i] > 0 ? 1 : 0);
    return out;
  }

  /** The largest (or smallest) of the ranks' values, NaN ones (nothing measured) left out; 0 when none. */
  private static double extreme(Distributed dist, double mine, boolean largest) {
    float[] all = dist.gather(new float[] {(float) mine}, dist.rank(), dist.worldSize());
    double out = Double.NaN;
    for (float v : all) {
      if (Float.isNaN(v)) continue;
      out = Double.isNaN(out) ? v : largest ? Math.max(out, v) : Math.min(out, v);
    }
    return Double.isNaN(out) ? 0 : out;
  }
}
