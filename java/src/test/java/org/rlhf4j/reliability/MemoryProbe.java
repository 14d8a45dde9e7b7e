package org.rlhf4j.reliability;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.testing.GoodWordReward;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * Runs PPO iterations of a tiny model in this process and prints after each one {@code
 * iteration N rss BYTES cache BYTES}: the resident set (VmRSS) and the bytes the caching CPU
 * allocator holds. {@link NativeMemoryTest} runs it in a JVM of its own.
 *
 * <p>Arguments: a scratch directory, the number of iterations.
 */
public final class MemoryProbe {
  /** Prompts per iteration and tokens per response: a rollout of ~90 KB of native tensors. */
  static final int BATCH = 64;
  static final int RESPONSE_TOKENS = 32;

  private MemoryProbe() {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    int iterations = Integer.parseInt(args[1]);
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    Path prompts = TinyCheckpoints.prompts(dir.resolve("prompts.txt"), 2 * BATCH);
    PpoRunConfig cfg = PpoRunConfig.loader().load(List.of(
        "model.path=" + model, "data.prompts=" + prompts, "run.out=" + dir.resolve("run"), "run.seed=3",
        "reward.kind=function", "reward.function=" + GoodWordReward.class.getName(),
        "generation.max_new_tokens=" + RESPONSE_TOKENS, "data.max_prompt_tokens=16",
        "schedule.rollout_batch=" + BATCH, "schedule.eval_prompts=0", "schedule.iterations=" + iterations,
        "ppo.ppo_epochs=1", "ppo.minibatch_size=" + BATCH, "ppo.micro_batch_size=" + BATCH / 2));
    try (PpoTrainer trainer = new PpoTrainer(cfg, PpoSetup.load(cfg))) {
      for (int i = 0; i < iterations; i++) {
        long it = trainer.step().iteration();
        System.out.println("iteration " + it + " rss " + rss() + " cache " + cacheBytes());
      }
    }
  }

  /** VmRSS from /proc/self/status, in bytes. */
  static long rss() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) return 1024 * Long.parseLong(line.replaceAll("\\D", ""));
    }
    throw new IllegalStateException("/proc/self/status has no VmRSS line");
  }

  private static long cacheBytes() throws IOException {
    return new ObjectMapper().readTree(Engine.buildInfo().json()).get("cpu_cache_bytes").asLong();
  }
}
