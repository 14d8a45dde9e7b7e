package org.rlhf4j.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhf4j.cli.Inputs.PromptInput;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.metrics.Progress;

/** Generation over a prompt list in batches, for the generate and eval commands. Stateless. */
final class Batches {
  private Batches() {}

  /** Receives each batch's prompts and rollout; the rollout is closed after it returns. */
  @FunctionalInterface
  interface Consumer {
    void accept(List<PromptInput> batch, Rollout rollout);
  }

  /**
   * Generates for prompts, batchSize at a time, in file order. The batch starting at prompt i
   * samples with seed options.seed() + i, so the same seed and batch size give the same tokens.
   */
  static void generate(String task, Model model, List<PromptInput> prompts, GenerateOptions options, int batchSize,
      Consumer consumer) {
    try (Progress progress = Progress.start(task, prompts.size())) {
      for (int from = 0; from < prompts.size(); from += batchSize) {
        List<PromptInput> batch = prompts.subList(from, Math.min(prompts.size(), from + batchSize));
        List<int[]> tokens = new ArrayList<>(batch.size());
        for (PromptInput p : batch) tokens.add(p.tokens());
        try (Rollout r = model.generate(tokens, options.withSeed(options.seed() + from))) {
          consumer.accept(batch, r);
        }
        progress.stepBy(batch.size());
      }
    }
  }

  /** Sample i's first len entries of a flattened [B, width] field. */
  static float[] row(float[] flat, int i, int width, int len) {
    return Arrays.copyOfRange(flat, i * width, i * width + len);
  }
}
