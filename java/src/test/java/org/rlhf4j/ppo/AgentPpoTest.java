package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.agent.Scripted;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.testing.TinyAgent;

/**
 * Multi-turn PPO through the trainer with every estimator: episodes of a scripted environment
 * (a tool message answers each turn without "good"), their metrics, and the dump's per-token
 * roles, turns and masks.
 */
class AgentPpoTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private List<PpoTrainer.Iteration> run(Path dump, String... sets) throws IOException {
    PpoRunConfig cfg = PpoRunConfig.loader().load(TinyAgent.configFile(dir, Scripted.class.getName()), List.of(sets));
    List<PpoTrainer.Iteration> its = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      if (dump != null) t.addRolloutObserver(new RolloutDump(dump, t));
      t.addListener(its::add);
      t.run();
    }
    return its;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"ppo.estimator=gae", "ppo.estimator=grpo", "ppo.estimator=rloo", "ppo.estimator=reinforce_pp",
      "ppo.dynamic_sampling=true"})
  void everyEstimatorLearnsFromEpisodes(String estimator) throws IOException {
    boolean groups = !estimator.equals("ppo.estimator=gae");
    List<String> sets = new ArrayList<>(List.of(estimator));
    if (groups) sets.addAll(List.of("generation.num_samples=2", "ppo.minibatch_size=8"));
    if (estimator.startsWith("ppo.dynamic")) sets.add("ppo.estimator=grpo");
    List<PpoTrainer.Iteration> its = run(null, sets.toArray(String[]::new));
    assertEquals(2, its.size());
    double turns = 0;
    for (PpoTrainer.Iteration it : its) {
      for (Map.Entry<String, Double> m : it.metrics().entrySet()) {
        assertTrue(Double.isFinite(m.getValue()), it.iteration() + ": " + m.getKey() + " = " + m.getValue());
      }
      assertEquals(0, it.metrics().get("nonfinite/skipped_steps"));
      double t = it.metrics().get("agent/turns");
      assertTrue(t >= 1 && t <= 3, "agent/turns " + t);
      double truncated = it.metrics().get("agent/truncated");
      assertTrue(truncated >= 0 && truncated <= 1, "agent/truncated " + truncated);
      assertEquals(0, it.metrics().get("agent/tool_calls"), "the scripted environment calls no tool of agent.tools");
      turns += t;
    }
    assertTrue(turns > 2, "some episodes take more than one turn: " + turns);
    assertTrue(its.getLast().metrics().containsKey("eval/scores"));
  }

  @Test
  void episodesNeedTheModelsChatTemplate() throws IOException {
    PpoRunConfig cfg = PpoRunConfig.loader().load(TinyAgent.configFile(dir, Scripted.class.getName()), List.of());
    Files.delete(dir.resolve("sft/tokenizer_config.json"));
    Files.writeString(dir.resolve("prompts.jsonl"), "{\"prompt\": \"the food was\"}\n".repeat(10));  // plain text
    var e = assertThrows(IllegalArgumentException.class, () -> PpoSetup.load(cfg));
    assertTrue(e.getMessage().startsWith("agent: multi-turn episodes are rendered with the model's chat template, and "),
        e.getMessage());
  }

  @Test
  void theDumpShowsEachTokensRoleTurnAndMaskAndEachTurnsObservations() throws IOException {
    Path dump = dir.resolve("dump");
    // Dynamic sampling gathers the kept groups into a new rollout: the action mask must survive it.
    run(dump, "schedule.iterations=1", "schedule.eval_prompts=0", "ppo.estimator=grpo", "ppo.dynamic_sampling=true",
        "generation.num_samples=2", "ppo.minibatch_size=8");
    List<String> lines = Files.readAllLines(dump.resolve(RolloutDump.fileName(1)));
    int observed = 0;
    for (String line : lines.subList(1, lines.size())) {
      JsonNode s = JSON.readTree(line);
      int n = s.get("response_tokens").size();
      assertEquals(n, s.get("role").size(), line);
      assertEquals(n, s.get("turn").size(), line);
      JsonNode turns = s.get("turns");
      for (int t = 0; t < n; t++) {
        boolean assistant = s.get("role").get(t).asText().equals("assistant");
        assertEquals(assistant ? 1.0 : 0.0, s.get("action_mask").get(t).asDouble(), line);
        if (!assistant) {
          observed++;
          assertEquals(0.0, s.get("loss_mask").get(t).asDouble(), "observation tokens are out of the loss: " + line);
          assertEquals(0.0, s.get("old_logprobs").get(t).asDouble(), line);
        }
        assertTrue(s.get("turn").get(t).asInt() < Math.max(1, turns.size()), line);
      }
      for (int k = 0; k + 1 < turns.size(); k++) {
        JsonNode obs = turns.get(k).get("observations");
        assertEquals("five six", obs.get(0).get("content").asText(), line);
        assertEquals(0.25, turns.get(k).get("reward").asDouble(), line);
      }
    }
    assertTrue(observed > 0, "some episode has an observation");
  }

  /**
   * bf16 episodes: each turn keeps the log-probs it decoded with, and one learner pass over the
   * whole episode gives the old ones, so the rollout/train mismatch compares the two (small, not
   * 0), as it does for single-turn bf16 rollouts.
   */
  @Test
  void bf16EpisodesMeasureTheirMismatchAgainstTheDecodingLogprobs() throws IOException {
    Map<String, Double> m = run(null, "model.dtype=bf16", "ppo.log_rollout_mismatch=true").getFirst().metrics();
    double diff = m.get("sampling/sampling_logp_difference/max");
    assertTrue(diff > 0 && diff < 1, "bf16 decoding against the learner's pass: " + m);
    assertEquals(1.0, m.get("sampling/importance_sampling_ratio/mean"), 0.1, m.toString());
  }
}
