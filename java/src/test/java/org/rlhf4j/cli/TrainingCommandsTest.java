package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.ConfigKey;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.TinyPpo;

/** The sft and train-rm commands end to end through {@link Main#run}, on a tiny model. */
class TrainingCommandsTest {
  @TempDir Path dir;
  private Path model;
  private Path sftConfig;
  private Path rmConfig;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeEach
  void files() throws IOException {
    model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    Path sftData = Files.write(dir.resolve("sft.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"completion\": \"three four\"}",
        "{\"prompt\": \"the food was\", \"completion\": \"very good\"}",
        "{\"text\": \"it is great\"}",
        "{\"prompt\": \"five\", \"completion\": \"six\"}"));
    Path rmData = Files.write(dir.resolve("rm.jsonl"), List.of(
        "{\"prompt\": \"the food was\", \"chosen\": \"good\", \"rejected\": \"bad\"}",
        "{\"prompt\": \"it is\", \"chosen\": \"very good\", \"rejected\": \"very bad\"}",
        "{\"chosen\": \"the food is good\", \"rejected\": \"the food is bad\"}",
        "{\"chosen\": \"one two good\", \"rejected\": \"one two bad\"}"));
    sftConfig = Files.writeString(dir.resolve("sft.yaml"), """
        model:
          path: %s
        data:
          prompts: %s
          eval_fraction: 0.25
          max_prompt_tokens: 16
        sft:
          epochs: 2
          batch_size: 2
          micro_batch_size: 1
          max_seq_len: 32
        """.formatted(model, sftData));
    rmConfig = Files.writeString(dir.resolve("rm.yaml"), """
        model:
          path: %s
        data:
          prompts: %s
          eval_fraction: 0.25
          max_prompt_tokens: 16
        rm:
          epochs: 2
          batch_size: 3
          max_seq_len: 32
          micro_batch_size: 3
        """.formatted(model, rmData));
  }

  private int run(String... args) {
    return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
  }

  @Test
  void sftTrainsWritesTheRunAndPrintsASummary() throws IOException {
    Path run = dir.resolve("run");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", run.toString(),
        "--set", "optim.lr=1e-3"), err.toString());
    assertTrue(out.toString().contains("sft: 4 optimizer steps, 2 epochs over 3 examples (1 held out"), out.toString());
    assertTrue(out.toString().contains("model: " + run.resolve("checkpoints/iter-000004")), out.toString());
    SftRunConfig written = SftRunConfig.loader().load(run.resolve("config.yaml"), List.of());
    assertEquals(run, written.run().out());
    assertEquals(1e-3, written.optim().lr());
    assertTrue(Files.isRegularFile(run.resolve("metrics.jsonl")));
    Path saved = ModelDirs.resolve(run);
    assertFalse(Checkpoint.open(saved).config().model().rewardHead());
    assertTrue(Files.isRegularFile(saved.resolve("tokenizer.json")), "the tokenizer travels with the model");
  }

  @Test
  void sftTrainsOnConversationsAndTheModelKeepsItsChatTemplate() throws IOException {
    TinyCheckpoints.writeChatTemplate(model, TinyCheckpoints.CHAT_TEMPLATE);
    String turn = "{\"messages\": [{\"role\": \"user\", \"content\": \"the food was\"}, "
        + "{\"role\": \"assistant\", \"content\": \"very good\"}]}";
    Path chat = Files.write(dir.resolve("chat.jsonl"), List.of(turn, turn, "{\"text\": \"it is great\"}", turn));
    Path run = dir.resolve("chat-run");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", run.toString(),
        "--set", "data.prompts=" + chat), err.toString());
    assertTrue(out.toString().contains("2 epochs over 3 examples"), out.toString());
    Path saved = ModelDirs.resolve(run);
    assertTrue(Files.readString(saved.resolve("tokenizer_config.json")).contains("chat_template"),
        "PPO after SFT renders with the same template");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", dir.resolve("all-tokens").toString(),
        "--set", "data.prompts=" + chat, "--set", "sft.assistant_only_loss=false"), err.toString());

    Files.write(chat, List.of(turn, "{\"messages\": [{\"role\": \"user\", \"content\": 3}]}"));
    Path bad = dir.resolve("bad-run");
    assertFalse(Main.OK == run("sft", "--config", sftConfig.toString(), "--out", bad.toString(),
        "--set", "data.prompts=" + chat, "--set", "data.eval_fraction=0"));
    assertTrue(err.toString().contains(chat + ":2: messages[0]: \"content\" must be a string, not number"),
        err.toString());
    assertFalse(Files.exists(bad), "nothing written");
  }

  @Test
  void trainRmTrainsAModelWithARewardHead() throws IOException {
    Path run = dir.resolve("rm-run");
    assertEquals(Main.OK, run("train-rm", "--config", rmConfig.toString(), "--out", run.toString()), err.toString());
    assertTrue(out.toString().contains("train-rm: 2 optimizer steps, 2 epochs over 3 pairs (1 held out"),
        out.toString());
    assertTrue(Checkpoint.open(ModelDirs.resolve(run)).config().model().rewardHead());
    assertTrue(Files.isRegularFile(run.resolve("config.yaml")));
  }

  @Test
  void anUnknownKeyIsAUsageErrorWithASuggestionAndWritesNothing() {
    Path run = dir.resolve("run");
    assertEquals(Main.USAGE, run("sft", "--config", sftConfig.toString(), "--out", run.toString(),
        "--set", "sft.epoch=3"));
    assertTrue(err.toString().contains("unknown key 'sft.epoch'"), err.toString());
    assertTrue(err.toString().contains("did you mean 'sft.epochs'?"), err.toString());
    assertEquals(1, err.toString().strip().lines().count(), "one line: " + err);
    assertFalse(Files.exists(run));
  }

  @Test
  void aMissingDataFileIsAUsageErrorAndWritesNothing() {
    for (String command : List.of("sft", "train-rm")) {
      Path run = dir.resolve("run-" + command);
      Path config = command.equals("sft") ? sftConfig : rmConfig;
      assertEquals(Main.USAGE, run(command, "--config", config.toString(), "--out", run.toString(),
          "--set", "data.prompts=" + dir.resolve("nope.jsonl")), command);
      assertTrue(err.toString().contains("not found: " + dir.resolve("nope.jsonl")), err.toString());
      assertFalse(Files.exists(run), command);
    }
  }

  @Test
  void aMissingModelIsAUsageErrorAndWritesNothing() {
    Path run = dir.resolve("run");
    assertEquals(Main.USAGE, run("sft", "--config", sftConfig.toString(), "--out", run.toString(),
        "--set", "model.path=" + dir.resolve("no-model")));
    assertTrue(err.toString().startsWith("error: model.path: " + dir.resolve("no-model")), err.toString());
    assertFalse(Files.exists(run));
  }

  @Test
  void aRunDirectoryThatHoldsARunIsRefusedAndLeftAlone() throws IOException {
    Path run = dir.resolve("run");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", run.toString()), err.toString());
    String config = Files.readString(run.resolve("config.yaml"));
    String metrics = Files.readString(run.resolve("metrics.jsonl"));
    assertEquals(Main.USAGE, run("sft", "--config", sftConfig.toString(), "--out", run.toString(),
        "--set", "optim.lr=1e-5"));
    assertTrue(err.toString().contains("run.out " + run + " already holds a run"), err.toString());
    assertTrue(err.toString().contains("choose another --out"), err.toString());
    assertEquals(config, Files.readString(run.resolve("config.yaml")));
    assertEquals(metrics, Files.readString(run.resolve("metrics.jsonl")));

    // --resume continues it instead: finished, it has nothing left to do and keeps its model.
    Path model = ModelDirs.resolve(run).resolve("model.safetensors");
    byte[] weights = Files.readAllBytes(model);
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", run.toString(), "--resume"),
        err.toString());
    assertEquals(metrics, Files.readString(run.resolve("metrics.jsonl")));
    assertArrayEquals(weights, Files.readAllBytes(ModelDirs.resolve(run).resolve("model.safetensors")));
  }

  @Test
  void helpListsEveryKeyWithItsDefault() {
    assertEquals(Main.OK, run("sft", "--help"));
    String help = out.toString();
    for (ConfigKey k : SftRunConfig.loader().keys()) {
      assertTrue(help.lines().anyMatch(l -> l.contains(k.path() + " ") && l.contains(" " + k.defaultValue() + " ")
          && l.contains(k.doc())), k.path() + " in:\n" + help);
    }
    out.getBuffer().setLength(0);
    assertEquals(Main.OK, run("train-rm", "--help"));
    for (ConfigKey k : RmRunConfig.loader().keys()) {
      assertTrue(out.toString().contains(k.path() + " "), k.path());
    }
    assertTrue(out.toString().contains("--set=KEY=VALUE"), out.toString());
  }

  @Test
  void ppoStartsFromTheSftRunAndIsScoredByTheRewardModelRun() {
    Path sft = dir.resolve("sft-run");
    Path rm = dir.resolve("rm-run");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", sft.toString()), err.toString());
    assertEquals(Main.OK, run("train-rm", "--config", rmConfig.toString(), "--out", rm.toString(),
        "--set", "model.path=" + sft), err.toString());
    Path ppoConfig = TinyPpo.configFile(dir.resolve("ppo"));
    assertEquals(Main.OK, run("ppo", "--config", ppoConfig.toString(), "--set", "model.path=" + sft,
        "--set", "reward.kind=model", "--set", "reward.function=null", "--set", "reward.model_path=" + rm,
        "--set", "schedule.iterations=1"),
        err.toString());
    assertTrue(Files.isDirectory(dir.resolve("ppo/run/checkpoints")));
  }

  @Test
  void theSamePipelineRunsOnALlama() {
    Path llama = TinyCheckpoints.write(dir.resolve("llama"), TinyCheckpoints.llama());
    Path sft = dir.resolve("llama-sft");
    Path rm = dir.resolve("llama-rm");
    assertEquals(Main.OK, run("sft", "--config", sftConfig.toString(), "--out", sft.toString(),
        "--set", "model.path=" + llama), err.toString());
    assertEquals(Main.OK, run("train-rm", "--config", rmConfig.toString(), "--out", rm.toString(),
        "--set", "model.path=" + sft), err.toString());
    Checkpoint rewardModel = Checkpoint.open(ModelDirs.resolve(rm));
    assertEquals("llama", rewardModel.config().modelType());
    assertTrue(rewardModel.config().model().rewardHead());
    Path ppoConfig = TinyPpo.configFile(dir.resolve("ppo"));
    assertEquals(Main.OK, run("ppo", "--config", ppoConfig.toString(), "--set", "model.path=" + sft,
        "--set", "model.critic=separate", "--set", "reward.kind=model", "--set", "reward.function=null",
        "--set", "reward.model_path=" + rm, "--set", "schedule.iterations=1"), err.toString());
    Checkpoint policy = Checkpoint.open(ModelDirs.resolve(dir.resolve("ppo/run")));
    assertEquals("llama", policy.config().modelType());
    assertEquals("llama", policy.subModel("critic").config().modelType());
  }
}
