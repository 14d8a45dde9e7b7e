package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.testing.GoodWordReward;
import org.rlhf4j.testing.TinyCheckpoints;

class EvalCommandTest {
  @TempDir Path dir;

  private JsonNode eval(Path model, Path reference, String... extra) throws IOException {
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 6);
    Path out = dir.resolve("eval.json");
    String[] args = {"eval", "--model", model.toString(), "--prompts", prompts.toString(), "--reward-function",
        GoodWordReward.class.getName(), "--reference", reference.toString(), "--max-new-tokens", "6",
        "--batch-size", "4", "--out", out.toString()};
    String[] all = new String[args.length + extra.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(extra, 0, all, args.length, extra.length);
    Cli r = Cli.run(all);
    assertEquals(0, r.code(), r::toString);
    for (String k : new String[] {"eval/prompts", "eval/scores", "eval/kl", "eval/kl_full", "eval/response_length",
        "eval/eos_rate"}) {
      assertTrue(r.out().contains("  " + k + " "), () -> k + " missing from the table:\n" + r);
    }
    return new ObjectMapper().readTree(out.toFile());
  }

  @Test
  void metricsAreTheMeansOfTheSamples() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2());
    Path ref = TinyCheckpoints.write(dir.resolve("ref"), TinyCheckpoints.gpt2().withSeed(99));
    JsonNode result = eval(model, ref);
    JsonNode m = result.get("metrics");
    JsonNode samples = result.get("samples");
    assertEquals(6, m.get("eval/prompts").asInt());
    assertEquals(6, samples.size());
    GoodWordReward reward = new GoodWordReward();
    double score = 0, kl = 0, klFull = 0, length = 0, ended = 0;
    for (JsonNode s : samples) {
      assertEquals(reward.score(s.get("prompt").asText(), s.get("response").asText(), Map.of()),
          s.get("score").asDouble(), 1e-6);
      score += s.get("score").asDouble();
      kl += s.get("kl").asDouble();
      klFull += s.get("kl_full").asDouble();
      length += s.get("response_length").asDouble();
      ended += s.get("ended").asBoolean() ? 1 : 0;
      assertTrue(s.get("kl_full").asDouble() > 0, "exact KL between different models is positive");
    }
    assertEquals(score / 6, m.get("eval/scores").asDouble(), 1e-9);
    assertEquals(kl / 6, m.get("eval/kl").asDouble(), 1e-9);
    assertEquals(klFull / 6, m.get("eval/kl_full").asDouble(), 1e-9);
    assertEquals(length / 6, m.get("eval/response_length").asDouble(), 1e-9);
    assertEquals(ended / 6, m.get("eval/eos_rate").asDouble(), 1e-9);
  }

  @Test
  void klToItselfIsZero() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.llama());
    JsonNode m = eval(model, model, "--temperature", "0.7").get("metrics");
    assertEquals(0, m.get("eval/kl").asDouble(), 1e-4);
    assertEquals(0, m.get("eval/kl_full").asDouble(), 1e-4);
  }

  @Test
  void rewardModelAndFunctionTogetherAreAUsageError() {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2());
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 2);
    Path out = dir.resolve("eval.json");
    Cli r = Cli.run("eval", "--model", model.toString(), "--prompts", prompts.toString(), "--reward-model",
        model.toString(), "--reward-function", GoodWordReward.class.getName(), "--out", out.toString());
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("mutually exclusive"), r::toString);
    assertFalse(out.toFile().exists());
  }

  @Test
  void unknownRewardFunctionIsAUsageErrorNamingTheOption() {
    Path model = TinyCheckpoints.write(dir.resolve("m"), TinyCheckpoints.gpt2());
    Path prompts = TinyCheckpoints.prompts(dir.resolve("p.txt"), 2);
    Cli r = Cli.run("eval", "--model", model.toString(), "--prompts", prompts.toString(), "--reward-function",
        "org.example.Missing");
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("--reward-function: class org.example.Missing is not on the classpath"), r::toString);
  }
}
