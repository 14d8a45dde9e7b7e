package org.rlhf4j.dpo;

import java.util.LinkedHashMap;
import java.util.Map;
import org.rlhf4j.engine.Dpo.Stats;
import org.rlhf4j.train.Distributed;

/**
 * TRL's DPO metrics over the pairs measured since the last {@link #drain}: sums of the native
 * statistics, added over micro-batches and, for a training step, over ranks, then divided.
 */
public final class DpoMetrics {
  // chosen_rewards, rejected_rewards, accuracies, margins, logps_chosen, logps_rejected,
  // logits_chosen, logits_rejected, tokens_chosen, tokens_rejected, num_tokens, nll * tokens_chosen, pairs
  private double[] sums = new double[13];

  public void add(Stats s) {
    double[] x = {s.chosenRewards(), s.rejectedRewards(), s.accuracies(), s.margins(), s.logpsChosen(),
        s.logpsRejected(), s.logitsChosen(), s.logitsRejected(), s.tokensChosen(), s.tokensRejected(), s.numTokens(),
        s.nll() * s.tokensChosen(), s.pairs()};
    for (int i = 0; i < x.length; i++) sums[i] += x[i];
  }

  /** The means (empty when nothing was measured), and a fresh start. */
  public Map<String, Double> drain(boolean overRanks, boolean rpo) {
    double[] s = overRanks ? Distributed.current().sum(sums) : sums;
    sums = new double[sums.length];
    Map<String, Double> out = new LinkedHashMap<>();
    double pairs = s[12];
    if (pairs == 0) return out;
    out.put("rewards/chosen", s[0] / pairs);
    out.put("rewards/rejected", s[1] / pairs);
    out.put("rewards/accuracies", s[2] / pairs);
    out.put("rewards/margins", s[3] / pairs);
    out.put("logps/chosen", s[4] / pairs);
    out.put("logps/rejected", s[5] / pairs);
    out.put("logits/chosen", s[6] / s[8]);
    out.put("logits/rejected", s[7] / s[9]);
    out.put("num_tokens", s[10]);
    if (rpo) out.put("nll_loss", s[11] / s[8]);
    return out;
  }
}
