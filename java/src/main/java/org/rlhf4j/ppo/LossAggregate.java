package org.rlhf4j.ppo;

import java.util.LinkedHashMap;
import java.util.Map;
import org.rlhf4j.engine.PpoResults.Loss;
import org.rlhf4j.engine.PpoResults.LossStats;

/**
 * Token-weighted means of the learning phase's per-micro-batch statistics, under TRL's metric
 * names. Variances are pooled (E[r^2] - E[r]^2 over every token). Not thread-safe.
 */
final class LossAggregate {
  private double tokens;
  private double policy, value, total, entropy, approxkl, clipfrac, ratio, ratioSq, valueClipfrac, vpred;
  private double epochApproxkl, epochTokens;
  private double klLoss, dualClipfrac;

  void add(Loss loss) {
    LossStats s = loss.stats();
    double n = s.nTokens();
    klLoss += n * loss.algo().klLoss();
    dualClipfrac += n * loss.algo().dualClipfrac();
    add(s);
  }

  void add(LossStats s) {
    double n = s.nTokens();
    tokens += n;
    policy += n * s.lossPolicy();
    value += n * s.lossValue();
    total += n * s.lossTotal();
    entropy += n * s.entropy();
    approxkl += n * s.approxkl();
    clipfrac += n * s.policyClipfrac();
    ratio += n * s.ratioMean();
    ratioSq += n * (s.ratioVar() + s.ratioMean() * s.ratioMean());
    valueClipfrac += n * s.valueClipfrac();
    vpred += n * s.vpred();
    epochApproxkl += n * s.approxkl();
    epochTokens += n;
  }

  /** Mean approx KL of the current epoch so far, then starts the next epoch's. */
  double endEpoch() {
    double kl = epochTokens == 0 ? 0 : epochApproxkl / epochTokens;
    epochApproxkl = 0;
    epochTokens = 0;
    return kl;
  }

  Map<String, Double> metrics() {
    Map<String, Double> m = new LinkedHashMap<>();
    double n = Math.max(tokens, 1);
    double ratioMean = ratio / n;
    m.put("policy/approxkl", approxkl / n);
    m.put("policy/clipfrac", clipfrac / n);
    m.put("policy/dual_clipfrac", dualClipfrac / n);
    m.put("loss/kl", klLoss / n);
    m.put("policy/entropy", entropy / n);
    m.put("policy/ratio_mean", ratioMean);
    m.put("policy/ratio_var", Math.max(0, ratioSq / n - ratioMean * ratioMean));
    m.put("loss/policy", policy / n);
    m.put("loss/value", value / n);
    m.put("loss/total", total / n);
    m.put("val/clipfrac", valueClipfrac / n);
    m.put("val/vpred", vpred / n);
    return m;
  }
}
