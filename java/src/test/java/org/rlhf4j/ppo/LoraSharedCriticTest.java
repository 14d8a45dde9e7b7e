package org.rlhf4j.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.SafetensorsFile;
import org.rlhf4j.checkpoint.TensorEntry;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * A separate LoRA critic on the policy's frozen base (r4j_model_share_base): the same run with
 * the critic's own copy of the base (model.critic_path = a copy of model.path) gives exactly the
 * same metrics, weights and checkpoint files, the critic's optimizer holds only adapters and its
 * head, and a resume from such a checkpoint is bitwise a straight run.
 */
class LoraSharedCriticTest {
  @TempDir Path tmp;

  private record Result(List<Map<String, Double>> metrics, List<float[]> weights, long criticSharedBytes) {}

  private PpoRunConfig config(Path sft, Path out, int iterations, String... extra) throws IOException {
    Path prompts = tmp.resolve("prompts.txt");
    if (!Files.exists(prompts)) TinyCheckpoints.prompts(prompts, 16);
    List<String> keys = new ArrayList<>(List.of("model.path=" + sft, "data.prompts=" + prompts, "run.out=" + out,
        "run.seed=5", "reward.kind=function", "reward.function=" + PpoTrainerTest.GoodShare.class.getName(),
        "ppo.preset=standard", "generation.max_new_tokens=4", "data.max_prompt_tokens=12", "schedule.rollout_batch=8",
        "ppo.minibatch_size=4", "ppo.micro_batch_size=4", "optim.lr=1e-2", "schedule.eval_prompts=0",
        "schedule.iterations=" + iterations, "schedule.checkpoint_every=2", "schedule.keep_checkpoints=1",
        "model.critic=separate", "model.lora.r=4", "model.lora.alpha=8", "model.lora.dropout=0.1"));
    keys.addAll(List.of(extra));
    return PpoRunConfig.loader().load(keys);
  }

  private static Result run(PpoRunConfig cfg) throws IOException {
    List<Map<String, Double>> metrics = new ArrayList<>();
    try (PpoTrainer t = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      long shared = t.parts().critic().sharedBaseBytes();
      t.addListener(it -> {
        Map<String, Double> m = new LinkedHashMap<>(it.metrics());
        m.keySet().removeIf(k -> k.startsWith("time/") || k.equals("tokens_per_s"));  // wall clock
        metrics.add(m);
      });
      t.run();
      List<float[]> weights = new ArrayList<>();
      for (Model m : List.of(t.parts().policy(), t.parts().critic())) {
        for (TensorInfo info : m.tensors()) weights.add(m.readFloats(info.name(), info.numel()));
      }
      return new Result(metrics, weights, shared);
    }
  }

  private static void assertSameWeights(Result expected, Result got) {
    assertEquals(expected.weights().size(), got.weights().size());
    for (int i = 0; i < expected.weights().size(); i++) {
      assertArrayEquals(expected.weights().get(i), got.weights().get(i), "tensor " + i);
    }
  }

  private static Path copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return to;
  }

  @Test
  void sharingTheBaseChangesNothingButMemoryAndResumesBitwise() throws IOException {
    Path sft = TinyCheckpoints.write(tmp.resolve("sft"), TinyCheckpoints.gpt2());
    Path copy = copyTree(sft, tmp.resolve("sft-copy"));

    Result shared = run(config(sft, tmp.resolve("shared"), 4));
    Result own = run(config(sft, tmp.resolve("own"), 4, "model.critic_path=" + copy));
    assertTrue(shared.criticSharedBytes() > 0, "the critic did not share the policy's base");
    assertEquals(0, own.criticSharedBytes(), "a critic from another directory keeps its own base");
    assertEquals(own.metrics(), shared.metrics());
    assertSameWeights(own, shared);

    Path ckShared = tmp.resolve("shared/checkpoints/iter-000004");
    Path ckOwn = tmp.resolve("own/checkpoints/iter-000004");
    for (String file : List.of("model.safetensors", "critic/model.safetensors", "critic/adapter_model.safetensors",
        "optimizer.safetensors")) {
      assertArrayEquals(Files.readAllBytes(ckOwn.resolve(file)), Files.readAllBytes(ckShared.resolve(file)), file);
    }
    // The critic's optimizer state: its step count, adapters and value head, never the (shared) base.
    try (SafetensorsFile state = SafetensorsFile.open(ckShared.resolve("optimizer.safetensors"))) {
      List<String> critic = state.tensors().stream().map(TensorEntry::name).filter(n -> n.startsWith("critic.")).toList();
      assertFalse(critic.isEmpty());
      for (String n : critic) assertTrue(n.equals("critic.step") || n.contains("lora_") || n.contains("v_head."), n);
    }

    run(config(sft, tmp.resolve("halves"), 2));
    Result resumed = run(config(sft, tmp.resolve("halves"), 4, "run.resume=true"));
    assertTrue(resumed.criticSharedBytes() > 0);
    assertEquals(shared.metrics().subList(2, 4), resumed.metrics());
    assertSameWeights(shared, resumed);
  }
}
