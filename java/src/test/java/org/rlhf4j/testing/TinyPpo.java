package org.rlhf4j.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A complete PPO setup on tiny files for tests: an SFT model, a prompt file and a config that
 * runs two iterations of four prompts, scored by {@link GoodWordReward}, evaluating on two
 * held-out prompts every iteration.
 */
public final class TinyPpo {
  private TinyPpo() {}

  /**
   * Writes dir/sft (a tiny GPT-2), dir/prompts.txt (20 prompts) and dir/ppo.yaml, whose run.out
   * is dir/run. Returns the config file.
   */
  public static Path configFile(Path dir) {
    Path sft = TinyCheckpoints.write(dir.resolve("sft"), TinyCheckpoints.gpt2());
    Path prompts = TinyCheckpoints.prompts(dir.resolve("prompts.txt"), 20);
    String yaml = config(dir.resolve("run"), sft, prompts, "max_new_tokens: 6", "", 1);
    Path file = dir.resolve("ppo.yaml");
    try {
      Files.writeString(file, yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /**
   * The config both tiny setups run: two iterations of four prompts scored by {@link
   * GoodWordReward}, evaluating on two held-out prompts every evalEvery iterations.
   *
   * @param generation the generation section's lines, each indented by two spaces after the first
   * @param sections whole further sections (e.g. agent), or ""
   */
  static String config(Path out, Path sft, Path prompts, String generation, String sections, int evalEvery) {
    return """
        run:
          out: %s
          seed: 3
        model:
          path: %s
        reward:
          kind: function
          function: %s
        data:
          prompts: %s
          max_prompt_tokens: 16
          eval_fraction: 0.2
        generation:
          %s
        %sppo:
          ppo_epochs: 2
          minibatch_size: 4
          micro_batch_size: 2
        schedule:
          iterations: 2
          rollout_batch: 4
          eval_every: %d
          eval_prompts: 2
        """.formatted(quoted(out), quoted(sft), GoodWordReward.class.getName(), quoted(prompts), generation, sections,
        evalEvery);
  }

  private static String quoted(Path p) {
    return "'" + p.toString().replace("'", "''") + "'";
  }
}
