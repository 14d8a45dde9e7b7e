package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.ConfigKey;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.ppo.PpoReport;
import org.rlhf4j.testing.NanReward;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.TinyPpo;

class PpoCommandTest {
  @TempDir Path dir;

  private Path run() {
    return dir.resolve("run");
  }

  private static List<Long> iterations(Path runDir) throws IOException {
    return MetricsLog.read(runDir.resolve(MetricsLog.FILE_NAME)).stream().map(MetricsRecord::iteration).toList();
  }

  @Test
  void runWritesConfigMetricsCheckpointReportAndRollouts() throws IOException {
    Path config = TinyPpo.configFile(dir);
    Path dump = dir.resolve("rollouts");
    Cli r = Cli.run("ppo", "--config", config.toString(), "--dump-rollouts", dump.toString());
    assertEquals(0, r.code(), r::toString);

    assertEquals(List.of(1L, 2L), iterations(run()));
    assertTrue(Files.isRegularFile(run().resolve("checkpoints/iter-000002/COMPLETE")));
    assertTrue(Files.isRegularFile(dump.resolve("iter-000001.jsonl")));
    assertTrue(Files.isRegularFile(dump.resolve("iter-000002.jsonl")));
    // The effective config reads back to the config that ran.
    PpoRunConfig written = PpoRunConfig.loader().load(run().resolve("config.yaml"), List.of());
    assertEquals(PpoRunConfig.loader().load(config, List.of()), written);

    String html = Files.readString(run().resolve(PpoReport.FILE_NAME));
    JsonNode data = new ObjectMapper().readTree(run().resolve("report-data.json").toFile());
    List<String> charts = new ArrayList<>();
    List<String> sampleSections = new ArrayList<>();
    for (JsonNode s : data.get("sections")) {
      if (s.get("type").asText().equals("chart")) charts.add(s.get("title").asText());
      if (s.get("type").asText().equals("samples")) sampleSections.add(s.get("title").asText());
    }
    assertEquals(PpoReport.CHARTS, charts);
    assertEquals(charts.size(), html.split("<svg", -1).length - 1, "one <svg> per chart");
    assertEquals(List.of("Samples at iteration 1", "Samples at iteration 2"), sampleSections);

    assertTrue(r.out().contains("ppo: iterations 1-2 of 2"), r::toString);
    assertTrue(r.out().contains("objective/kl"), r::toString);
    assertTrue(r.out().contains(run().resolve(PpoReport.FILE_NAME).toString()), r::toString);

    // A run directory resolves to its newest checkpoint: the policy, with its shared value head.
    Path prompts = dir.resolve("prompts.txt");
    Path gen = dir.resolve("gen.jsonl");
    Cli g = Cli.run("generate", "--model", run().toString(), "--prompts", prompts.toString(), "--max-new-tokens",
        "4", "--out", gen.toString());
    assertEquals(0, g.code(), g::toString);
    JsonNode first = new ObjectMapper().readTree(Files.readAllLines(gen).getFirst());
    assertEquals(first.get("response_tokens").size(), first.get("values").size());
  }

  @Test
  void helpListsEveryConfigKey() {
    Cli r = Cli.run("ppo", "--help");
    assertEquals(0, r.code(), r::toString);
    for (ConfigKey k : PpoRunConfig.loader().keys()) {
      assertTrue(r.out().contains("  " + k.path() + " "), () -> k.path() + " missing from --help:\n" + r.out());
    }
    assertTrue(r.out().contains("--dump-rollouts"));
  }

  @Test
  void unknownOptionIsUsageErrorAndWritesNothing() {
    Path config = TinyPpo.configFile(dir);
    Cli r = Cli.run("ppo", "--config", config.toString(), "--iterations", "3");
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("--iterations"), r::toString);
    assertFalse(Files.exists(run()));
  }

  @Test
  void unknownConfigKeyIsUsageErrorWithSuggestionAndWritesNothing() {
    Path config = TinyPpo.configFile(dir);
    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "ppo.clip_range=0.1");
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("did you mean 'ppo.cliprange'?"), r::toString);
    assertFalse(Files.exists(run()));
  }

  @Test
  void missingModelDirIsUsageErrorNamingItAndWritesNothing() {
    Path config = TinyPpo.configFile(dir);
    Path missing = dir.resolve("no-such-model");
    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "model.path=" + missing);
    assertEquals(2, r.code(), r::toString);
    assertEquals("error: model.path: " + missing + ": no such directory", r.err().strip());
    assertFalse(Files.exists(run()));
  }

  @Test
  void missingPromptFileIsUsageErrorAndWritesNothing() {
    Path config = TinyPpo.configFile(dir);
    Path missing = dir.resolve("no-prompts.txt");
    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "data.prompts=" + missing);
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains(missing.toString()), r::toString);
    assertFalse(Files.exists(run()));
  }

  @Test
  void existingRunIsRefusedWithoutResumeAndLeftUntouched() throws IOException {
    Path config = TinyPpo.configFile(dir);
    assertEquals(0, Cli.run("ppo", "--config", config.toString(), "--set", "schedule.iterations=1").code());
    List<byte[]> before = snapshot(run());

    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "ppo.kl_coef=0.5");
    assertEquals(2, r.code(), r::toString);
    assertTrue(r.err().contains("--resume") && r.err().contains(run().toString()), r::toString);
    List<byte[]> after = snapshot(run());
    assertEquals(before.size(), after.size());
    for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), after.get(i));
  }

  /** Every file under dir, in path order, with its path and content. */
  private static List<byte[]> snapshot(Path dir) throws IOException {
    List<byte[]> out = new ArrayList<>();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted().toList()) {
        out.add(p.toString().getBytes());
        if (Files.isRegularFile(p)) out.add(Files.readAllBytes(p));
      }
    }
    return out;
  }

  @Test
  void resumeContinuesTheIterationCount() throws IOException {
    Path config = TinyPpo.configFile(dir);
    assertEquals(0, Cli.run("ppo", "--config", config.toString()).code());

    Cli r = Cli.run("ppo", "--config", config.toString(), "--resume", "--set", "schedule.iterations=3");
    assertEquals(0, r.code(), r::toString);
    assertEquals(List.of(1L, 2L, 3L), iterations(run()));
    assertTrue(r.out().contains("ppo: iterations 3-3 of 3"), r::toString);
    assertTrue(Files.isRegularFile(run().resolve("checkpoints/iter-000003/COMPLETE")));
    assertTrue(PpoRunConfig.loader().load(run().resolve("config.yaml"), List.of()).run().resume());
  }

  @Test
  void outAndPresetShorthandsSetTheirKeys() throws IOException {
    Path config = TinyPpo.configFile(dir);
    Path other = dir.resolve("other run");
    Cli r = Cli.run("ppo", "--config", config.toString(), "--out", other.toString(), "--preset", "standard",
        "--set", "schedule.iterations=1");
    assertEquals(0, r.code(), r::toString);
    assertFalse(Files.exists(run()));
    PpoRunConfig written = PpoRunConfig.loader().load(other.resolve("config.yaml"), List.of());
    assertEquals("STANDARD", written.ppo().preset().name());
    assertTrue(written.ppo().whitenAdvantages(), "the standard preset's defaults apply");
  }

  @Test
  void nonFiniteScoreWithStopPolicyExitsOneWithTheReason() {
    Path config = TinyPpo.configFile(dir);
    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "reward.function=" + NanReward.class.getName(),
        "--set", "run.on_nonfinite=stop");
    assertEquals(1, r.code(), r::toString);
    assertTrue(r.err().contains("iteration 1: a score is NaN or Inf"), r::toString);
  }

  @Test
  void promptsOverTheLimitAreSkippedOrTruncatedAndCounted() throws IOException {
    Path config = TinyPpo.configFile(dir);
    // 20 short prompts, then one of 40 words over max_prompt_tokens 16.
    Files.writeString(dir.resolve("prompts.txt"), "one two three four ".repeat(10) + "\n", StandardOpenOption.APPEND);
    Cli skip = Cli.run("ppo", "--config", config.toString(), "--set", "schedule.iterations=1");
    assertEquals(0, skip.code(), skip::toString);
    assertTrue(skip.out().contains("prompts        16 training, 4 held out; 1 skipped and 0 truncated over"
        + " data.max_prompt_tokens 16 (data.too_long skip)"), skip::toString);

    Cli cut = Cli.run("ppo", "--config", config.toString(), "--out", dir.resolve("cut").toString(), "--set",
        "schedule.iterations=1", "--set", "data.too_long=truncate");
    assertEquals(0, cut.code(), cut::toString);
    assertTrue(cut.out().contains("; 0 skipped and 1 truncated over data.max_prompt_tokens 16 (data.too_long truncate)"),
        cut::toString);
  }

  @Test
  void conversationalPromptsAreRenderedWithTheGenerationPrompt() throws IOException {
    Path config = TinyPpo.configFile(dir);
    TinyCheckpoints.writeChatTemplate(dir.resolve("sft"), TinyCheckpoints.CHAT_TEMPLATE);
    List<String> lines = new ArrayList<>();
    for (String words : List.of("the food was", "it is", "one two", "three four five")) {
      for (int i = 0; i < 5; i++) {
        lines.add("{\"prompt\": [{\"role\": \"user\", \"content\": \"" + words + "\"}]}");
      }
    }
    Path chat = Files.write(dir.resolve("chat.jsonl"), lines);
    Path dump = dir.resolve("rollouts");
    Cli r = Cli.run("ppo", "--config", config.toString(), "--set", "schedule.iterations=1", "--set",
        "data.prompts=" + chat, "--dump-rollouts", dump.toString());
    assertEquals(0, r.code(), r::toString);
    ObjectMapper json = new ObjectMapper();
    JsonNode first = null;
    for (String l : Files.readAllLines(dump.resolve("iter-000001.jsonl"))) {
      if (first == null && json.readTree(l).has("prompt")) first = json.readTree(l);
    }
    assertTrue(first != null && first.get("prompt").asText().startsWith("<bos>user "), String.valueOf(first));
    assertTrue(first.get("prompt").asText().endsWith(" <eos> assistant "), first.toString());
  }
}
