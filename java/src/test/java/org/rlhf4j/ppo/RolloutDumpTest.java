package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.data.Prompt;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.TinyPpo;

class RolloutDumpTest {
  private static final List<String> PER_TOKEN = List.of("old_logprobs", "ref_logprobs", "old_values", "kl", "rewards",
      "returns", "advantages", "advantages_whitened");

  @TempDir Path dir;

  /** The prompts' tokens as the trainer passed them, per iteration. */
  private final List<List<int[]>> promptTokens = new ArrayList<>();

  /** Runs iterations of the tiny setup with the dump on; returns each iteration's lines, parsed. */
  private List<List<JsonNode>> dump(int iterations, String... overrides) throws IOException {
    Path config = TinyPpo.configFile(dir);
    List<String> sets = new ArrayList<>(List.of(overrides));
    sets.add("schedule.eval_prompts=0");
    PpoRunConfig cfg = PpoRunConfig.loader().load(config, sets);
    Path out = dir.resolve("dump");
    try (PpoTrainer trainer = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      trainer.addRolloutObserver(new RolloutDump(out, trainer));
      trainer.addRolloutObserver((it, prompts, rollout) ->
          promptTokens.add(prompts.stream().map(Prompt::tokens).toList()));
      for (int i = 0; i < iterations; i++) trainer.step();
    }
    ObjectMapper json = new ObjectMapper();
    List<List<JsonNode>> files = new ArrayList<>();
    for (int it = 1; it <= iterations; it++) {
      List<JsonNode> lines = new ArrayList<>();
      for (String line : Files.readAllLines(out.resolve(RolloutDump.fileName(it)))) lines.add(json.readTree(line));
      files.add(lines);
    }
    try (var left = Files.list(out)) {
      assertEquals(iterations, left.count(), "one file per iteration and no temp file left");
    }
    return files;
  }

  private static double[] doubles(JsonNode array) {
    double[] out = new double[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asDouble();
    return out;
  }

  private static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }

  private static void close(double expected, double actual, String what) {
    assertEquals(expected, actual, 1e-5 * Math.max(1, Math.abs(expected)), what);
  }

  @Test
  void seedPresetDumpHoldsTheSeedFormulasPerToken() throws IOException {
    List<List<JsonNode>> files = dump(2);
    var tokenizer = TinyCheckpoints.tokenizer();
    boolean someKl = false;
    for (int it = 0; it < files.size(); it++) {
      List<JsonNode> lines = files.get(it);
      JsonNode header = lines.getFirst();
      assertEquals(it + 1, header.get("iteration").asInt());
      assertEquals("seed", header.get("ppo").get("preset").asText());
      assertEquals(1.0, header.get("ppo_options").get("gamma").asDouble());
      assertEquals(1.0, header.get("ppo_options").get("lam").asDouble());
      assertEquals("k1", header.get("ppo_options").get("kl_estimator").asText());
      double klCoef = header.get("kl_coef").asDouble();
      assertEquals(0.2, klCoef);
      assertEquals(1 + 4, lines.size(), "a settings line and rollout_batch samples");

      for (int i = 1; i < lines.size(); i++) {
        JsonNode s = lines.get(i);
        int[] response = ints(s.get("response_tokens"));
        int n = response.length;
        assertTrue(n >= 1 && n <= 6);
        assertArrayEquals(promptTokens.get(it).get(i - 1), ints(s.get("query_tokens")), "query tokens without padding");
        assertEquals(tokenizer.decode(response, true), s.get("response").asText());
        for (String f : PER_TOKEN) assertEquals(n, s.get(f).size(), f + " has one entry per response token");

        double[] old = doubles(s.get("old_logprobs"));
        double[] ref = doubles(s.get("ref_logprobs"));
        double[] values = doubles(s.get("old_values"));
        double[] kl = doubles(s.get("kl"));
        double[] rewards = doubles(s.get("rewards"));
        double[] returns = doubles(s.get("returns"));
        double[] advantages = doubles(s.get("advantages"));
        double[] whitened = doubles(s.get("advantages_whitened"));
        double score = s.get("score").asDouble();
        for (int t = 0; t < n; t++) {
          close(old[t] - ref[t], kl[t], "k1 KL at " + t);
          close(-klCoef * kl[t] + (t == n - 1 ? score : 0), rewards[t], "reward at " + t);
          double togo = 0;
          for (int j = t; j < n; j++) togo += rewards[j];
          close(togo, returns[t], "returns[" + t + "] = sum of rewards from t on");
          close(returns[t] - values[t], advantages[t], "advantages[" + t + "] = returns - old_values");
          assertEquals(advantages[t], whitened[t], "no whitening in the seed preset");
          someKl |= kl[t] != 0;
        }
      }
    }
    assertTrue(someKl, "after an update the policy differs from the reference");
  }

  @Test
  void standardPresetDumpShowsItsOptionsAndWhitenedAdvantages() throws IOException {
    List<List<JsonNode>> files = dump(1, "ppo.preset=standard");
    List<JsonNode> lines = files.getFirst();
    JsonNode options = lines.getFirst().get("ppo_options");
    assertEquals(0.95, options.get("lam").asDouble());
    assertTrue(options.get("whiten_advantages").asBoolean());
    double sum = 0;
    int count = 0;
    boolean differs = false;
    for (JsonNode s : lines.subList(1, lines.size())) {
      double[] a = doubles(s.get("advantages"));
      double[] w = doubles(s.get("advantages_whitened"));
      for (int t = 0; t < w.length; t++) {
        sum += w[t];
        count++;
        differs |= Math.abs(a[t] - w[t]) > 1e-6;
      }
    }
    assertFalse(count == 0);
    assertEquals(0, sum / count, 1e-4, "whitened advantages have mean 0 over the batch's tokens");
    assertTrue(differs);
  }
}
