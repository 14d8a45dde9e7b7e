package org.rlhf4j.ppo;

import java.util.LinkedHashMap;
import java.util.Map;
import org.rlhf4j.engine.PpoResults.Loss;
import org.rlhf4j.engine.PpoResults.LossStats;
import org.rlhf4j.train.Distributed;

/**
 * Token-weighted means of the learning phase's per-micro-batch statistics, under TRL's metric
 * names. Variances are pooled (E[r^2] - E[r]^2 over every token). In a data-parallel job the
 * sums are taken over every rank's tokens (a collective: every rank calls it). Not thread-safe.
 */
final class LossAggregate {
  private double tokens;
  private double policy, value, total, entropy, approxkl, clipfrac, ratio, ratioSq, valueClipfrac, vpred;
  private double klLoss, dualClipfrac;
  private double epochApproxkl, epochTokens;
  private double realTokens, paddedTokens;

  /** A micro-batch's prompt + response tokens and the tokens of its padded tensor. */
  void addPadding(long real, long padded) {
    realTokens += real;
    paddedTokens += padded;
  }

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

  /** Mean approx KL of the current epoch so far over all ranks, then starts the next epoch's. */
  double endEpoch(Distributed dist) {
    double[] s = dist.sum(epochApproxkl, epochTokens);
    double kl = s[1] == 0 ? 0 : s[0] / s[1];
    epochApproxkl = 0;
    epochTokens = 0;
    return kl;
  }

  Map<String, Double> metrics(Distributed dist) {
    double[] s = dist.sum(tokens, policy, value, total, entropy, approxkl, clipfrac, ratio, ratioSq, valueClipfrac,
        vpred, klLoss, dualClipfrac, realTokens, paddedTokens);
    Map<String, Double> m = new LinkedHashMap<>();
    double n = Math.max(s[0], 1);
    double ratioMean = s[7] / n;
    m.put("policy/approxkl", s[5] / n);
    m.put("policy/clipfrac", s[6] / n);
    m.put("policy/dual_clipfrac", s[12] / n);
    m.put("loss/kl", s[11] / n);
    m.put("policy/entropy", s[4] / n);
    m.put("policy/ratio_mean", ratioMean);
    m.put("policy/ratio_var", Math.max(0, s[8] / n - ratioMean * ratioMean));
    m.put("loss/policy", s[1] / n);
    m.put("loss/value", s[2] / n);
    m.put("loss/total", s[3] / n);
    m.put("val/clipfrac", s[9] / n);
    m.put("val/vpred", s[10] / n);
    // The share of the learning passes' token positions that are padding (what a token budget trims).
    m.put("learn/padding_waste", s[14] == 0 ? 0 : 1 - s[13] / s[14]);
    return m;
  }
}
