package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.rlhf4j.agent.Episode;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Distributed;

/**
 * Multi-turn episodes as a rollout: prompt and response tokens, ENDED where the episode ended
 * rather than ran out of budget, OLD_LOGPROBS as recorded while sampling, OLD_VALUES when a
 * shared critic recorded them, ACTION_MASK (0 on observation tokens) and TURN_REWARDS; and the
 * agent/* metrics of an iteration's episodes. A bf16/f16 policy's old log-probs (and values)
 * then come from one forward pass over the episodes, as a single-turn rollout's do in
 * generation, the decoding ones kept in SAMPLING_LOGPROBS; not with keep_decoding_logprobs.
 */
final class EpisodeRollout {
  private EpisodeRollout() {}

  static Rollout of(Model policy, List<Episode> episodes, int padId, double temperature, boolean keepDecodingLogprobs) {
    List<int[]> prompts = episodes.stream().map(Episode::promptTokens).toList();
    List<int[]> responses = episodes.stream().map(Episode::responseTokens).toList();
    Rollout rollout = ended(policy, prompts, responses, episodes, padId);
    try {
      int width = rollout.responseLen();
      rollout.write(RolloutField.OLD_LOGPROBS, padded(episodes, width, Episode::logprobs));
      boolean values = episodes.stream().allMatch(e -> e.values() != null);
      if (values) rollout.write(RolloutField.OLD_VALUES, padded(episodes, width, Episode::values));
      rollout.write(RolloutField.ACTION_MASK, padded(episodes, width, Episode::actionMask));
      rollout.write(RolloutField.TURN_REWARDS, padded(episodes, width, Episode::turnRewards));
      DType dtype = policy.config().dtype();
      if ((dtype == DType.BF16 || dtype == DType.F16) && !keepDecodingLogprobs) {
        rollout.scorePolicy(policy, temperature, Rollout.LOGPROBS | (values ? Rollout.VALUES : 0));
      }
      return rollout;
    } catch (RuntimeException e) {
      rollout.close();
      throw e;
    }
  }

  /**
   * A rollout whose ENDED is 1 exactly where an episode was not truncated. Rollout.of marks a row
   * ended when its last token is the given EOS (every row for -1, none for an id no row ends
   * with), and an episode's last token does not tell (an observation that did not fit truncates
   * after a finished turn): so ended and truncated rows are taken from one rollout of each kind.
   */
  private static Rollout ended(Model policy, List<int[]> prompts, List<int[]> responses, List<Episode> episodes,
      int padId) {
    Rollout all = Rollout.of(policy, prompts, responses, padId, -1);
    if (episodes.stream().noneMatch(Episode::truncated)) return all;
    Set<Integer> last = new HashSet<>();
    for (int[] r : responses) last.add(r[r.length - 1]);
    int never = 0;
    while (last.contains(never)) never++;
    try (all; Rollout none = Rollout.of(policy, prompts, responses, padId, never)) {
      int[] part = new int[episodes.size()], row = new int[episodes.size()];
      for (int i = 0; i < row.length; i++) {
        part[i] = episodes.get(i).truncated() ? 1 : 0;
        row[i] = i;
      }
      return Rollout.gather(List.of(all, none), part, row);
    }
  }

  private static float[] padded(List<Episode> episodes, int width, Function<Episode, float[]> f) {
    float[] out = new float[episodes.size() * width];
    for (int i = 0; i < episodes.size(); i++) {
      float[] v = f.apply(episodes.get(i));
      System.arraycopy(v, 0, out, i * width, v.length);
    }
    return out;
  }

  /**
   * agent/turns, agent/tool_calls, agent/tool_errors, agent/tool_seconds and agent/truncated as
   * means over every episode this iteration sampled on all ranks (the same value on each).
   *
   * @param tools the tool counters since the last iteration (ToolMetrics.drain on this rank)
   */
  static void metrics(List<Episode> episodes, Map<String, Double> tools, Distributed dist, Map<String, Double> out) {
    double turns = 0, truncated = 0;
    for (Episode e : episodes) {
      turns += e.turns().size();
      truncated += e.truncated() ? 1 : 0;
    }
    double[] s = dist.sum(episodes.size(), turns, truncated, tools.get("agent/tool_calls"),
        tools.get("agent/tool_errors"), tools.get("agent/tool_seconds"));
    double n = Math.max(1, s[0]);
    out.put("agent/turns", s[1] / n);
    out.put("agent/tool_calls", s[3] / n);
    out.put("agent/tool_errors", s[4] / n);
    out.put("agent/tool_seconds", s[5] / n);
    out.put("agent/truncated", s[2] / n);
  }

  static List<Episode> concat(List<List<Episode>> parts) {
    List<Episode> out = new ArrayList<>();
    parts.forEach(out::addAll);
    return out;
  }
}
