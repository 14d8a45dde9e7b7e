package org.rlhf4j.ppo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.train.Seeds;

/**
 * Held-out evaluation of the policy: responses with the run's sampling settings and a fixed seed
 * (so evaluations are comparable across iterations), their scores and their KL to the
 * reference.
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
    int batch = config.schedule().rolloutBatch();
    for (int from = 0; from < prompts.size(); from += batch) {
      List<Prompt> chunk = prompts.subList(from, Math.min(prompts.size(), from + batch));
      try (Rollout r = parts.policy().generate(PpoSampling.tokens(chunk),
          sampling.generation().withSeed(Seeds.mix(config.run().seed(), -1, from)).withValues(false))) {
        parts.scoreReference(r, false, config.ppoOptions().temperature());
        List<String> responses = sampling.decode(r);
        float[] scores = sampling.score(r, chunk, responses).total();
        double[] old = r.sumOverResponse(RolloutField.OLD_LOGPROBS), ref = r.sumOverResponse(RolloutField.REF_LOGPROBS);
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
    return new EvalResult(out, m);
  }

  /** The first schedule.eval_prompts held-out prompts. */
  List<Prompt> evalPrompts() {
    List<Prompt> eval = parts.prompts().eval();
    return eval.subList(0, Math.min(eval.size(), config.schedule().evalPrompts()));
  }
}
