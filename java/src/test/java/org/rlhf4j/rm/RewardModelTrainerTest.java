package org.rlhf4j.rm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.RmRunConfig;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.ToyPreferences;
import org.rlhf4j.testing.Weights;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

class RewardModelTrainerTest {
  @TempDir Path dir;

  @Test
  void learnsAToyPreferenceThatHoldsOnHeldOutPairs() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    RmRunConfig config = RmRunConfig.loader().load(List.of("model.path=" + model,
        "data.prompts=" + ToyPreferences.write(dir.resolve("prefs.jsonl"), 64, 1), "run.out=" + dir.resolve("run"),
        "data.eval_fraction=0.25", "data.max_prompt_tokens=8", "rm.max_seq_len=16", "rm.epochs=2",
        "rm.batch_size=8", "rm.micro_batch_size=4", "optim.lr=3e-3"));
    RmResult result;
    try (RewardModelTrainer trainer = new RewardModelTrainer(config, RmParts.load(config))) {
      result = trainer.run();
    }
    assertEquals(48, result.trainPairs());
    assertEquals(16, result.evalPairs());
    assertTrue(result.evalAccuracy() >= 0.9, "held-out accuracy " + result.evalAccuracy());
    assertTrue(result.evalLoss() < Math.log(2), "held-out loss " + result.evalLoss() + " below chance");

    List<MetricsRecord> metrics = MetricsLog.read(dir.resolve("run/metrics.jsonl"));
    assertEquals(2 * 6, metrics.size());
    MetricsRecord last = metrics.getLast();
    for (String key : List.of("train/loss", "train/accuracy", "eval/loss", "eval/accuracy", "lr", "grad_norm")) {
      assertTrue(last.values().containsKey(key), key);
    }
    assertEquals(result.evalAccuracy(), last.get("eval/accuracy"));

    // The saved model is a reward model: its config says so, and it prefers good to bad.
    Path saved = ModelDirs.resolve(dir.resolve("run"));
    Checkpoint checkpoint = Checkpoint.open(saved);
    assertTrue(checkpoint.config().model().rewardHead());
    assertTrue(checkpoint.config().toJson().get("architectures").get(0).asText().endsWith("ForSequenceClassification"));
    Tokenizer tok = Tokenizers.load(saved);
    try (Model rm = checkpoint.loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      int[] good = tok.encodePrompt("it is very good");
      int[] bad = tok.encodePrompt("it is very bad");
      float[] r = rm.reward(TokenBatch.rightPadded(List.of(append(good, tok.eosId()), append(bad, tok.eosId())),
          tok.padId()));
      assertTrue(r[0] > r[1], "r(good) " + r[0] + " > r(bad) " + r[1]);
    }
  }

  @Test
  void aTokenBudgetTakesTheStepsOfFixedMicroBatches() throws IOException {
    // AdamW with eps 1 steps by about lr x gradient, so the weights compare the gradients (a small
    // eps magnifies float rounding on near-zero gradients to a sign).
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    Path prefs = ToyPreferences.write(dir.resolve("prefs.jsonl"), 24, 1);
    Path[] saved = new Path[3];
    String[] cut = {"rm.max_tokens_per_micro_batch=0", "rm.max_tokens_per_micro_batch=40",
        "rm.max_tokens_per_micro_batch=1"};
    for (int i = 0; i < cut.length; i++) {
      RmRunConfig config = RmRunConfig.loader().load(List.of("model.path=" + model, "data.prompts=" + prefs,
          "run.out=" + dir.resolve("run" + i), "data.eval_fraction=0", "data.max_prompt_tokens=8", "rm.max_seq_len=16",
          "rm.epochs=1", "rm.batch_size=8", "rm.micro_batch_size=8", cut[i], "optim.lr=0.3", "optim.eps=1"));
      try (RewardModelTrainer trainer = new RewardModelTrainer(config, RmParts.load(config))) {
        saved[i] = trainer.run().checkpoint();
      }
    }
    Weights.assertClose(saved[0].resolve("model.safetensors"), saved[1].resolve("model.safetensors"), 1e-5);
    Weights.assertClose(saved[0].resolve("model.safetensors"), saved[2].resolve("model.safetensors"), 1e-5);
  }

  private static int[] append(int[] tokens, int last) {
    int[] out = java.util.Arrays.copyOf(tokens, tokens.length + 1);
    out[tokens.length] = last;
    return out;
  }

  @Test
  void bothSidesArePaddedToTheLongerOne() {
    List<PreferencePair> pairs = List.of(new PreferencePair(new int[] {1, 2, 3}, new int[] {1, 4}),
        new PreferencePair(new int[] {5}, new int[] {6, 7, 8, 9}));
    TokenBatch[] sides = RewardModelTrainer.sides(pairs, 0);
    assertEquals(4, sides[0].seqLen());
    assertEquals(4, sides[1].seqLen());
    assertArrayEquals(new int[] {1, 2, 3, 0, 5, 0, 0, 0}, sides[0].tokens());
    assertArrayEquals(new byte[] {1, 1, 1, 0, 1, 0, 0, 0}, sides[0].mask());
    assertArrayEquals(new int[] {1, 4, 0, 0, 6, 7, 8, 9}, sides[1].tokens());
    assertArrayEquals(new byte[] {1, 1, 0, 0, 1, 1, 1, 1}, sides[1].mask());
  }
}
