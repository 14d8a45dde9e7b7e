package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.ConfigException;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.testing.TinyCheckpoints;

/** reward.functions: built-in verifiable rewards, weights, per-function metrics and dumps. */
class RewardFunctionsTest {
  @TempDir Path tmp;

  private PpoRunConfig config(String functionsYaml, String... extra) throws IOException {
    Path model = tmp.resolve("model");
    if (!model.toFile().exists()) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prompts = tmp.resolve("prompts.jsonl");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 20; i++) sb.append("{\"prompt\": \"the food was\", \"answer\": \"good\"}\n");
    Files.writeString(prompts, sb);
    String yaml = """
        model: {path: '%s'}
        data: {prompts: '%s', max_prompt_tokens: 16}
        run: {out: '%s', seed: 5}
        reward:
          kind: function
          functions:
        %s
        generation: {max_new_tokens: 6, num_samples: 2}
        ppo: {preset: grpo, minibatch_size: 8, micro_batch_size: 8}
        schedule: {rollout_batch: 4, eval_prompts: 0}
        """.formatted(model, prompts, tmp.resolve("run"), functionsYaml.indent(4).stripTrailing());
    Path file = tmp.resolve("ppo.yaml");
    Files.writeString(file, yaml);
    return PpoRunConfig.loader().load(file, List.of(extra));
  }

  private static WeightedRewards rewards(PpoRunConfig c) {
    return WeightedRewards.of(c.reward().functions());
  }

  @Test
  void builtInsScoreWhatTheirNamesSay() throws IOException {
    PpoRunConfig c = config("""
        - {name: exact_match}
        - {name: regex, pattern: 'answer: (\\w+)', label: extracted}
        - {name: valid_json}
        - {name: length_penalty, max_words: 2}
        """);
    WeightedRewards w = rewards(c);
    assertEquals(List.of("exact_match", "extracted", "valid_json", "length_penalty"), w.labels());
    Map<String, Object> fields = Map.of("answer", "good");
    assertEquals(List.of(1.0, 0.0, 0.0, 0.0), box(w.values("p", " good ", fields)));
    assertEquals(List.of(0.0, 1.0, 0.0, -2.0), box(w.values("p", "so answer: good ok", fields)));
    assertEquals(List.of(0.0, 0.0, 1.0, -1.0), box(w.values("p", "{\"a\": [1, 2]}", fields)), "3 words, 1 past 2");
    assertEquals(0.0, w.values("p", "{\"a\": 1} trailing", fields)[2], "one JSON value, nothing after it");
    assertThrows(IllegalArgumentException.class, () -> w.values("p", "x", Map.of()), "no answer field");
  }

  @Test
  void weightsCombineAndEachFunctionIsLoggedAndDumped() throws IOException {
    PpoRunConfig c = config("""
        - {name: exact_match, weight: 2.0}
        - {name: length_penalty, max_words: 1, weight: 0.5}
        - {class: org.rlhf4j.ppo.PpoTrainerTest$GoodShare, weight: -1}
        """);
    WeightedRewards w = rewards(c);
    assertEquals(List.of("exact_match", "length_penalty", "goodshare"), w.labels());
    assertEquals(2.0 * 0 + 0.5 * -2 - 1.0 * (1.0 / 3), w.score("p", "good bad ugly", Map.of("answer", "good")), 1e-12);

    Path dump = tmp.resolve("dump");
    try (PpoTrainer t = new PpoTrainer(c, PpoSetup.load(c))) {
      t.addRolloutObserver(new RolloutDump(dump, t));
      var m = t.step().metrics();
      for (String l : w.labels()) assertTrue(m.containsKey("reward/" + l), "reward/" + l + " in " + m.keySet());
    }
    List<String> lines = Files.readAllLines(dump.resolve(RolloutDump.fileName(1)));
    assertEquals(1 + 8, lines.size());
    ObjectMapper json = new ObjectMapper();
    for (int i = 1; i < lines.size(); i++) {
      JsonNode s = json.readTree(lines.get(i));
      assertEquals((i - 1) / 2, s.get("group_id").asInt(), "two samples per prompt, adjacent");
      JsonNode by = s.get("rewards_by_function");
      double combined = 2 * by.get("exact_match").asDouble() + 0.5 * by.get("length_penalty").asDouble()
          - by.get("goodshare").asDouble();
      assertEquals(s.get("score").asDouble(), combined, 1e-5, "the score is the weighted sum: " + s);
      assertEquals(s.get("response_tokens").size(), s.get("loss_mask").size());
      for (JsonNode v : s.get("loss_mask")) assertEquals(1.0, v.asDouble());
    }
  }

  @Test
  void theListSurvivesTheEffectiveConfigFile() throws IOException {
    PpoRunConfig c = config("""
        - {name: regex, pattern: 'x=(\\d+)', field: solution, weight: 0.5}
        - {name: length_penalty, max_words: 3}
        - {class: org.rlhf4j.ppo.PpoTrainerTest$GoodShare, label: share}
        """);
    Path written = tmp.resolve("config.yaml");
    Files.writeString(written, PpoRunConfig.loader().toYaml(c));
    assertEquals(c.reward(), PpoRunConfig.loader().load(written, List.of()).reward());
  }

  @Test
  void badEntriesAreNamedWithTheirIndex() {
    assertEquals("reward.functions[0] in ppo.yaml: unknown reward function 'exactmatch'; built-in: exact_match, "
        + "length_penalty, regex, valid_json (or give class: a Java RewardFunction)",
        message("- {name: exactmatch}"));
    assertEquals("reward.functions[1] in ppo.yaml needs exactly one of name and class",
        message("- {name: valid_json}\n- {weight: 2}"));
    assertEquals("reward.functions[0] in ppo.yaml: the regex function needs pattern", message("- {name: regex}"));
    assertEquals("reward.functions[1] in ppo.yaml: a second function labelled 'valid_json'; give it a label",
        message("- {name: valid_json}\n- {name: valid_json}"));
  }

  private String message(String yaml) {
    return assertThrows(ConfigException.class, () -> config(yaml)).getMessage().replace(tmp + "/", "");
  }

  private static List<Double> box(double[] v) {
    return java.util.Arrays.stream(v).boxed().toList();
  }
}
