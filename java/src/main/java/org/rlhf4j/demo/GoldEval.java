package org.rlhf4j.demo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.demo.task.ReviewTask;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * Measures a policy on held-out prompts with the task's hidden judges, which the reward model
 * never saw: the gold reward (sentiment) and validity (a well-formed sentence of the grammar),
 * beside the reward model's score and the KL to the reference. Telling apart real improvement
 * from fooling the reward model is the point of the two judges.
 */
final class GoldEval {
  /** One held-out sample as the judges saw it. */
  record Sample(String prompt, String response, double gold, boolean positive, boolean valid, double rmScore,
      double kl, int length) {}

  /** The samples and their means. */
  record Result(List<Sample> samples) {
    double gold() {
      return samples.stream().mapToDouble(Sample::gold).average().orElse(0);
    }

    double positiveShare() {
      return samples.stream().filter(Sample::positive).count() / (double) samples.size();
    }

    double validity() {
      return samples.stream().filter(Sample::valid).count() / (double) samples.size();
    }

    double rmScore() {
      return samples.stream().mapToDouble(Sample::rmScore).average().orElse(0);
    }

    double kl() {
      return samples.stream().mapToDouble(Sample::kl).average().orElse(0);
    }

    double length() {
      return samples.stream().mapToDouble(Sample::length).average().orElse(0);
    }

    /** The rows of the before/after table. */
    Map<String, Double> table() {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("gold reward (mean)", gold());
      m.put("positive share (gold)", positiveShare());
      m.put("validity rate", validity());
      m.put("reward-model score", rmScore());
      m.put("KL to reference", kl());
      m.put("response length (tokens)", length());
      return m;
    }
  }

  private GoldEval() {}

  /**
   * Samples a response per prompt (an opening, which the judges read as it is) at temperature 1
   * (as PPO samples), with a fixed seed so the policies before and after are compared on the
   * same draws of randomness.
   */
  static Result evaluate(Model policy, Model reference, Model rewardModel, WordTokenizer tokenizer, ReviewTask task,
      List<String> prompts, int maxNewTokens, long seed, int batch) {
    List<Sample> out = new ArrayList<>();
    GenerateOptions options = new GenerateOptions(maxNewTokens, 1.0, 0, 1.0, tokenizer.eosId(), -1,
        tokenizer.padId(), seed, false);
    for (int from = 0; from < prompts.size(); from += batch) {
      List<String> chunk = prompts.subList(from, Math.min(prompts.size(), from + batch));
      // As PPO's prompts: the opening as a user message, rendered with the generation prompt.
      List<int[]> tokens = chunk.stream().map(p -> tokenizer.encode(DemoChatTemplate.prompt(p))).toList();
      try (Rollout r = policy.generate(tokens, options.withSeed(seed + from))) {
        r.scoreRef(reference, null, 1.0);
        r.scoreReward(rewardModel);
        double[] old = r.sumOverResponse(RolloutField.OLD_LOGPROBS), ref = r.sumOverResponse(RolloutField.REF_LOGPROBS);
        float[] scores = r.floats(RolloutField.SCORES);
        List<int[]> responses = r.responses();
        for (int i = 0; i < chunk.size(); i++) {
          String response = DemoVocabulary.words(tokenizer, responses.get(i));
          String prompt = chunk.get(i);
          out.add(new Sample(prompt, response, task.goldReward(prompt, response), task.positive(prompt, response),
              task.valid(prompt, response), scores[i], old[i] - ref[i], responses.get(i).length));
        }
      }
    }
    return new Result(out);
  }
}
