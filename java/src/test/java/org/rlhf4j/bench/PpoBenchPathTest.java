package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Native;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.TinyPpo;

/**
 * scripts/bench measures what {@code rlhf4j ppo} runs: one bench iteration calls exactly the
 * native functions that one iteration of the ppo command's trainer calls (both scored by a
 * reward model, with a shared critic and a reference model).
 */
class PpoBenchPathTest {
  @TempDir Path dir;

  @Test
  void theBenchCallsTheNativeFunctionsOfThePpoCommandsIteration() throws Exception {
    Path rewardModel = TinyCheckpoints.write(dir.resolve("rm"), TinyCheckpoints.gpt2().withRewardHead(true));
    PpoRunConfig config = PpoRunConfig.loader().load(TinyPpo.configFile(dir), List.of("reward.kind=model",
        "reward.function=null", "reward.model_path=" + rewardModel));
    Set<String> trainer;
    try (PpoTrainer t = new PpoTrainer(config, PpoSetup.load(config))) {
      Native.startRecording();
      t.step();
      trainer = Native.stopRecording();
    }

    PpoBench bench = new PpoBench();
    bench.layers = 1;
    bench.dModel = 32;
    bench.heads = 2;
    bench.vocab = 64;
    bench.batch = 4;
    bench.promptLen = 8;
    bench.newTokens = 6;
    bench.minibatch = 2;
    bench.epochs = 1;
    Set<String> benched;
    try (PpoTrainer t = bench.trainer(DType.F32)) {
      Native.startRecording();
      bench.iteration(t);
      benched = Native.stopRecording();
    }

    assertTrue(trainer.stream().anyMatch(n -> n.contains("ppo")), "the iteration reached no PPO function: " + trainer);
    assertEquals(new TreeSet<>(trainer), new TreeSet<>(benched), "the bench and the ppo command call different "
        + "native functions");
  }
}
