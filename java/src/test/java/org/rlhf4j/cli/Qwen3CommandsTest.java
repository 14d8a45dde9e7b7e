package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.TinyPpo;

/**
 * A Qwen3 (q/k norms, its own head size, tied head) through the commands a user runs: sft,
 * PPO with LoRA on the result, export with the adapters merged, and generate from the export.
 */
class Qwen3CommandsTest {
  @TempDir Path dir;

  private static float[] logprobs(Path model) {
    try (Model m = Checkpoint.open(model).loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      return m.score(TokenBatch.rightPadded(List.of(new int[] {3, 5, 7, 9}), 0), 1.0, false, false).logprobs();
    }
  }

  @Test
  void sftPpoWithLoraExportAndGenerate() throws IOException {
    Path base = TinyCheckpoints.write(dir.resolve("qwen3"), TinyCheckpoints.qwen3());
    Path data = Files.write(dir.resolve("sft.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"completion\": \"three four\"}",
        "{\"prompt\": \"the food was\", \"completion\": \"very good\"}",
        "{\"prompt\": \"five\", \"completion\": \"six\"}"));
    Path sft = dir.resolve("sft");
    Cli r = Cli.run("sft", "--out", sft.toString(), "--set", "model.path=" + base, "--set", "data.prompts=" + data,
        "--set", "sft.epochs=2", "--set", "sft.batch_size=3", "--set", "sft.micro_batch_size=3",
        "--set", "sft.max_seq_len=32", "--set", "data.max_prompt_tokens=16");
    assertEquals(0, r.code(), r::toString);
    Path sftModel = ModelDirs.resolve(sft);
    assertEquals("qwen3", Checkpoint.open(sftModel).config().modelType());

    Path ppoConfig = TinyPpo.configFile(dir.resolve("ppo"));
    r = Cli.run("ppo", "--config", ppoConfig.toString(), "--set", "model.path=" + sftModel, "--set", "model.lora.r=4",
        "--set", "model.lora.target_modules=q_proj,k_proj,v_proj,o_proj", "--set", "schedule.iterations=1");
    assertEquals(0, r.code(), r::toString);
    Path policy = ModelDirs.resolve(dir.resolve("ppo/run"));
    assertEquals("qwen3", Checkpoint.open(policy).config().modelType());
    assertTrue(Files.exists(policy.resolve("adapter_model.safetensors")), "the policy is saved as an adapter");

    Path export = dir.resolve("export");
    r = Cli.run("export", "--model", policy.toString(), "--out", export.toString(), "--merge");
    assertEquals(0, r.code(), r::toString);
    assertEquals("qwen3", Checkpoint.open(export).config().modelType());
    assertTrue(Checkpoint.open(export).config().model().qkNorm());
    assertArrayEquals(logprobs(policy), logprobs(export), 1e-5f, "merging keeps the outputs");

    Path prompts = Files.writeString(dir.resolve("prompts.jsonl"), "{\"prompt\": \"the food was\"}\n");
    Path out = dir.resolve("gen.jsonl");
    r = Cli.run("generate", "--model", export.toString(), "--prompts", prompts.toString(), "--max-new-tokens", "4",
        "--seed", "1", "--out", out.toString());
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.out().contains("wrote 1 generations"), r::toString);
  }
}
