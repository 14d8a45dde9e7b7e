package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Seeds;

/**
 * Held-out evaluation of the policy: responses (episodes, with an agent) with the run's sampling
 * settings and fixed seeds (so evaluations are comparable across iterations), their scores and
 * their KL to the reference (over the policy's own tokens).
 */
public final class PpoEvaluation {
  /** A held-out sample: the response, its score and its KL to the reference (summed k1). */
  public record EvalSample(String prompt, String response, int[] responseTokens, double score, double kl) {}

  /** Held-out evaluation: per-sample results and their means under eval/* names. */
  public record EvalResult(List<EvalSample> samples, Map<String, Double> metrics) {}

  private final PpoRunConfig config;
  private final PpoParts parts;
  private final PpoSampling sampling;

  PpoEvaluation(PpoRunConfig config, PpoParts parts, PpoSampling sampling) {
    this.config = config;
    this.parts = parts;
    this.sampling = sampling;
  }

  /** Generates for prompts, in chunks of schedule.rollout_batch, scores them and measures their KL. */
  EvalResult evaluate(List<Prompt> prompts) {
    List<EvalSample> out = new ArrayList<>();
    double turns = 0;
    int batch = config.schedule().rolloutBatch();
    for (int from = 0; from < prompts.size(); from += batch) {
      List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + batch));
      PpoSampling.Responses played = generate(chunk, from);
      if (played.episodes() != null) turns += played.episodes().stream().mapToInt(e -> e.turns().size()).sum();
      try (Rollout r = played.rollout()) {
        parts.scoreReference(r, false, config.ppoOptions().temperature());
        List<String> responses = sampling.decode(r);
        float[] scores = sampling.score(r, chunk, responses).total();
        double[] old = actions(r, RolloutField.OLD_LOGPROBS), ref = actions(r, RolloutField.REF_LOGPROBS);
        List<int[]> tokens = r.responses();
        for (int i = 0; i < chunk.size(); i++) {
          out.add(new EvalSample(chunk.get(i).text(), responses.get(i), tokens.get(i), scores[i], old[i] - ref[i]));
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/scores", out.stream().mapToDouble(EvalSample::score).average().orElse(0));
    m.put("eval/kl", out.stream().mapToDouble(EvalSample::kl).average().orElse(0));
    m.put("eval/response_length", out.stream().mapToDouble(s -> s.responseTokens().length).average().orElse(0));
    if (parts.agent() != null) {
      // Evaluation's tool calls are its own: drained here, they stay out of the next iteration's agent/* metrics.
      int n = Math.max(1, out.size());
      m.put("eval/agent_turns", turns / n);
      m.put("eval/agent_tool_calls", parts.agent().metrics().drain().get("agent/tool_calls") / n);
    }
    return new EvalResult(out, m);
  }

  /** Responses to the chunk of prompts starting at from: one turn, or with an agent, episodes. */
  private PpoSampling.Responses generate(List<Prompt> chunk, int from) {
    GenerateOptions options = sampling.generation().withValues(false);
    long seed = Seeds.mix(config.run().seed(), -1, from);
    if (parts.agent() == null) {
      return new PpoSampling.Responses(parts.policy().generate(PpoSampling.tokens(chunk), options.withSeed(seed)), null);
    }
    long[] seeds = new long[chunk.size()];
    for (int i = 0; i < seeds.length; i++) seeds[i] = Seeds.mix(seed, i);
    return sampling.respond(chunk, options, seeds);
  }

  /** A per-token field summed over each response's action tokens (all of them without an agent). */
  private double[] actions(Rollout r, RolloutField f) {
    if (parts.agent() == null) return r.sumOverResponse(f);
    float[] v = r.floats(f), mask = r.floats(RolloutField.ACTION_MASK);
    double[] out = new double[r.batch()];
    for (int i = 0; i < v.length; i++) out[i / r.responseLen()] += mask[i] * v[i];
    return out;
  }

  /** The first schedule.eval_prompts held-out prompts. */
  List<Prompt> evalPrompts() {
    List<Prompt> eval = parts.prompts().eval();
    return eval.subList(0, Math.min(eval.size(), config.schedule().evalPrompts()));
  }
}
