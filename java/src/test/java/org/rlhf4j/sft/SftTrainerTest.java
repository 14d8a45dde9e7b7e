package org.rlhf4j.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Rollout;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.Trees;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.rlhf4j.train.ExampleEncoder;
import org.rlhf4j.train.NonFiniteException;
import org.rlhf4j.train.SftExample;

class SftTrainerTest {
  @TempDir Path dir;

  /** Distinct prompts, so a model that memorised the corpus completes each its own way. */
  private static final String[][] CORPUS = {
      {"one two", "three four"},
      {"the food was", "very good"},
      {"it is", "great"},
      {"five six", "seven eight nine"},
      {"the food is", "bad"},
  };

  private Path corpus() throws IOException {
    List<String> lines = new ArrayList<>();
    for (String[] pc : CORPUS) lines.add("{\"prompt\": \"" + pc[0] + "\", \"completion\": \"" + pc[1] + "\"}");
    return Files.write(dir.resolve("sft.jsonl"), lines);
  }

  private SftRunConfig config(String out, String... more) throws IOException {
    Path model = dir.resolve("model");
    if (!Files.exists(model)) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    List<String> sets = new ArrayList<>(List.of("model.path=" + model, "data.prompts=" + corpus(),
        "run.out=" + dir.resolve(out), "data.max_prompt_tokens=16", "sft.max_seq_len=32"));
    sets.addAll(List.of(more));
    return SftRunConfig.loader().load(sets);
  }

  @Test
  void memorisesATinyCorpusAndSavesAModelPpoCanStartFrom() throws IOException {
    SftRunConfig config = config("run", "data.eval_fraction=0", "sft.epochs=30", "sft.batch_size=5",
        "sft.micro_batch_size=1", "sft.decay=constant", "optim.lr=1e-2");
    SftResult result;
    try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
      result = trainer.run();
    }
    List<MetricsRecord> metrics = MetricsLog.read(dir.resolve("run/metrics.jsonl"));
    assertEquals(30, metrics.size(), "one line per optimizer step");
    assertEquals(30, result.steps());
    MetricsRecord first = metrics.getFirst();
    for (String key : List.of("train/loss", "lr", "epoch", "grad_norm")) {
      assertTrue(first.values().containsKey(key), key);
    }
    assertEquals(1.0, first.get("epoch"));
    assertTrue(result.trainLoss() < 0.1 * first.get("train/loss"),
        "loss fell from " + first.get("train/loss") + " to " + result.trainLoss());
    assertEquals(Double.NaN, result.evalLoss());

    // The saved model, found from the run directory as PPO finds it, completes every prompt as trained.
    Path saved = ModelDirs.resolve(dir.resolve("run"));
    assertEquals(result.checkpoint(), saved);
    Tokenizer tok = Tokenizers.load(saved);
    try (Model m = Checkpoint.open(saved).loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      List<int[]> prompts = new ArrayList<>();
      for (String[] pc : CORPUS) prompts.add(tok.encodePrompt(pc[0]));
      var greedy = new GenerateOptions(8, 0.0, 0, 1.0, tok.eosId(), -1, tok.padId(), 0, false);
      try (Rollout r = m.generate(prompts, greedy)) {
        for (int i = 0; i < CORPUS.length; i++) {
          int[] response = r.response(i);
          assertEquals(tok.eosId(), response[response.length - 1], "stops with EOS after " + CORPUS[i][0]);
          assertEquals(CORPUS[i][1], tok.decode(response, true));
        }
      }
    }
  }

  @Test
  void withLoraOnlyTheAdaptersTrainAndTheCheckpointHoldsAPeftAdapter() throws IOException {
    SftRunConfig config = config("lora", "data.eval_fraction=0", "sft.epochs=10", "sft.batch_size=5",
        "sft.micro_batch_size=5", "sft.decay=constant", "optim.lr=3e-2", "model.lora.r=4", "model.lora.alpha=8");
    SftResult result;
    try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
      result = trainer.run();
    }
    List<MetricsRecord> metrics = MetricsLog.read(dir.resolve("lora/metrics.jsonl"));
    // A random tiny model's frozen head keeps every distribution near uniform: the loss falls slowly.
    assertTrue(result.trainLoss() < 0.95 * metrics.getFirst().get("train/loss"),
        "loss fell from " + metrics.getFirst().get("train/loss") + " to " + result.trainLoss());
    Path saved = ModelDirs.resolve(dir.resolve("lora"));
    assertTrue(Files.isRegularFile(saved.resolve("adapter_config.json")));
    try (Model trained = Checkpoint.open(saved).loadModel("cpu", c -> c, LoadOptions.strict()).model();
        Model base = Checkpoint.open(dir.resolve("model")).loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      assertEquals(4, trained.lora().orElseThrow().r());
      for (var t : base.tensors()) {
        assertArrayEquals(base.readFloats(t.name(), t.numel()), trained.readFloats(t.name(), t.numel()), t.name());
      }
    }
  }

  @Test
  void evaluatesTheHeldOutExamplesAtEveryEpochEnd() throws IOException {
    SftRunConfig config = config("run", "data.eval_fraction=0.4", "sft.epochs=3", "sft.batch_size=2",
        "sft.micro_batch_size=1");
    SftResult result;
    try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
      result = trainer.run();
    }
    assertEquals(3, result.trainExamples());
    assertEquals(2, result.evalExamples());
    List<MetricsRecord> metrics = MetricsLog.read(dir.resolve("run/metrics.jsonl"));
    assertEquals(6, metrics.size(), "2 steps (of 2 and 1 examples) per epoch");
    for (MetricsRecord m : metrics) {
      assertEquals(m.iteration() % 2 == 0, m.values().containsKey("eval/loss"), "step " + m.iteration());
    }
    assertEquals(metrics.getLast().get("eval/loss"), result.evalLoss());
    assertTrue(Double.isFinite(result.evalLoss()));
  }

  @Test
  void theLossCoversTheCompletionOnly() throws IOException {
    SftRunConfig config = config("run");
    WordTokenizer tok = TinyCheckpoints.tokenizer();
    ExampleEncoder encoder = new ExampleEncoder(tok, config.data(), 32);
    SftExample a = encoder.encode("a", "the food was", "very good").example();
    SftExample b = encoder.encode("b", "one", "two three four five").example();
    Model model = Model.create(TinyCheckpoints.gpt2(), "cpu");
    var data = new SftData(List.of(a, b), List.of(), 0, 0);
    var parts = new SftParts(model, tok, data, HfConfig.of(model.config()), null);
    try (SftTrainer trainer = new SftTrainer(config, parts)) {
      // By hand: the prompt's 4 tokens (BOS the food was) get no loss; very, good and EOS do.
      int[] tokens = a.tokens();
      TokenBatch batch = TokenBatch.rightPadded(List.of(tokens), tok.padId());
      byte[] completionOnly = {0, 0, 0, 0, 1, 1, 1};
      byte[] everyToken = {0, 1, 1, 1, 1, 1, 1};
      double expected = model.lmLoss(batch, completionOnly, 1, false).loss();
      assertEquals(expected, trainer.loss(List.of(a)), 1e-6);
      assertNotEquals(model.lmLoss(batch, everyToken, 1, false).loss(), trainer.loss(List.of(a)), 1e-3);
      assertArrayEquals(completionOnly, SftBatch.of(List.of(a), tok.padId()).lossMask());

      // Padded together, each completion token weighs the same: a has 3, b has 5.
      double mean = (3 * trainer.loss(List.of(a)) + 5 * trainer.loss(List.of(b))) / 8;
      assertEquals(mean, trainer.loss(List.of(a, b)), 1e-5);
    }
  }

  @Test
  void gradientAccumulationGivesTheStepOfOneWholeBatch() throws IOException {
    double[] after = new double[2];
    int[] micro = {1, 5};
    for (int i = 0; i < 2; i++) {
      SftRunConfig config = config("run" + i, "data.eval_fraction=0", "sft.epochs=1", "sft.batch_size=5",
          "sft.micro_batch_size=" + micro[i], "sft.decay=constant", "optim.lr=1e-2");
      try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
        SftResult r = trainer.run();
        assertEquals(1, r.steps());
        after[i] = trainer.loss(trainer.parts().data().train());
      }
    }
    assertEquals(after[1], after[0], 1e-5, "micro-batches of 1 and one micro-batch of 5 take the same step");
  }

  @Test
  void aTokenBudgetTakesTheStepOfFixedMicroBatches() throws IOException {
    // Examples of 4-7 tokens: a budget of 14 cuts the batch of 5 into pairs and singles by length,
    // one of 1 gives each example a micro-batch of its own.
    String[] cut = {"sft.micro_batch_size=5", "sft.max_tokens_per_micro_batch=14", "sft.max_tokens_per_micro_batch=1"};
    double[] after = new double[cut.length];
    for (int i = 0; i < cut.length; i++) {
      SftRunConfig config = config("budget" + i, "data.eval_fraction=0", "sft.epochs=1", "sft.batch_size=5",
          "sft.micro_batch_size=5", cut[i], "sft.decay=constant", "optim.lr=1e-2");
      try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
        assertEquals(1, trainer.run().steps());
        after[i] = trainer.loss(trainer.parts().data().train());
      }
    }
    assertEquals(after[0], after[1], 1e-5, "budget 14 against one micro-batch");
    assertEquals(after[0], after[2], 1e-5, "budget 1 against one micro-batch");
  }

  @Test
  void aRunFromTheSameSeedIsRepeatable() throws IOException {
    double[] losses = new double[2];
    for (int i = 0; i < 2; i++) {
      SftRunConfig config = config("run" + i, "data.eval_fraction=0", "sft.epochs=2", "sft.batch_size=2",
          "sft.micro_batch_size=1", "run.seed=3");
      try (SftTrainer trainer = new SftTrainer(config, SftParts.load(config))) {
        losses[i] = trainer.run().trainLoss();
      }
    }
    assertEquals(losses[0], losses[1]);
    assertFalse(Double.isNaN(losses[0]));
  }

  @Test
  void aNonFiniteLossSkipsItsStepOrStopsTheRun() throws IOException {
    // A learning rate of 1e30 throws the weights out of float range after the first step.
    SftRunConfig skip = config("skip", "data.eval_fraction=0", "sft.epochs=3", "sft.batch_size=5",
        "sft.micro_batch_size=5", "sft.decay=constant", "optim.lr=1e30", "optim.max_grad_norm=0");
    SftResult result;
    try (SftTrainer trainer = new SftTrainer(skip, SftParts.load(skip))) {
      result = trainer.run();
    }
    assertEquals(3, result.steps());
    assertEquals(2, result.skippedSteps());
    List<MetricsRecord> metrics = MetricsLog.read(dir.resolve("skip/metrics.jsonl"));
    assertEquals(2.0, metrics.getLast().get("nonfinite/skipped_steps"));
    assertFalse(metrics.getLast().values().containsKey("train/loss"));

    SftRunConfig stop = config("stop", "data.eval_fraction=0", "sft.epochs=3", "sft.batch_size=5",
        "sft.micro_batch_size=5", "sft.decay=constant", "optim.lr=1e30", "optim.max_grad_norm=0",
        "run.on_nonfinite=stop");
    try (SftTrainer trainer = new SftTrainer(stop, SftParts.load(stop))) {
      var e = assertThrows(NonFiniteException.class, trainer::run);
      assertTrue(e.getMessage().startsWith("optimizer step 2: the loss is NaN or Inf"), e.getMessage());
      assertTrue(e.getMessage().endsWith("(run.on_nonfinite is stop)"), e.getMessage());
    }
    assertFalse(Files.exists(dir.resolve("stop/checkpoints")), "a stopped run saves no model");
  }

  @Test
  void aStoppedRunResumesFromItsCheckpointToTheModelOfAnUninterruptedOne() throws IOException {
    // 5 examples in batches of 2, shuffled: 3 steps an epoch, the last one partial; stopped mid-epoch.
    List<String> sets = List.of("data.eval_fraction=0", "sft.epochs=2", "sft.batch_size=2", "sft.micro_batch_size=1",
        "sft.warmup_steps=1", "optim.lr=1e-2", "run.seed=3");
    SftRunConfig straight = config("straight", sets.toArray(String[]::new));
    SftResult a;
    try (SftTrainer trainer = new SftTrainer(straight, SftParts.load(straight))) {
      a = trainer.run();
    }
    SftRunConfig cut = config("cut", sets.toArray(String[]::new));
    try (SftTrainer trainer = new SftTrainer(cut, SftParts.load(cut))) {
      trainer.addListener((step, metrics) -> {
        if (step == 2) trainer.requestStop();
      });
      SftResult stopped = trainer.run();
      assertEquals(2, stopped.steps());
      assertTrue(Files.exists(stopped.checkpoint().resolve(Checkpoint.OPTIMIZER)), "a resumable checkpoint");
    }
    List<String> again = new ArrayList<>(sets);
    again.add("run.resume=true");
    again.add("sft.batch_size=3");
    SftRunConfig other = config("cut", again.toArray(String[]::new));
    var e = assertThrows(IllegalArgumentException.class, () -> new SftTrainer(other, SftParts.load(other)));
    assertTrue(e.getMessage().contains("resume with the same data and sft section"), e.getMessage());

    again.removeLast();
    SftRunConfig resume = config("cut", again.toArray(String[]::new));
    SftResult b;
    try (SftTrainer trainer = new SftTrainer(resume, SftParts.load(resume))) {
      assertEquals(2, trainer.steps());
      b = trainer.run();
    }
    assertEquals(a.steps(), b.steps());
    assertEquals(a.trainLoss(), b.trainLoss());
    assertEquals(MetricsLog.read(dir.resolve("straight/metrics.jsonl")), MetricsLog.read(dir.resolve("cut/metrics.jsonl")));
    assertArrayEquals(Files.readAllBytes(a.checkpoint().resolve("model.safetensors")),
        Files.readAllBytes(b.checkpoint().resolve("model.safetensors")), "bitwise the same weights");
  }

  @Test
  void aRunKilledAfterItsPeriodicCheckpointResumesToTheModelOfAnUninterruptedOne() throws IOException {
    // 3 steps an epoch, 2 epochs, a checkpoint every 2 steps; "killed" after step 3: what is on
    // disk then (iter-2 and metrics up to step 3) is copied away, as a SIGKILL would leave it.
    List<String> sets = List.of("data.eval_fraction=0", "sft.epochs=2", "sft.batch_size=2", "sft.micro_batch_size=1",
        "sft.warmup_steps=1", "optim.lr=1e-2", "run.seed=3", "sft.save_steps=2");
    SftRunConfig straight = config("straight", sets.toArray(String[]::new));
    Path killed = dir.resolve("killed");
    SftResult a;
    try (SftTrainer trainer = new SftTrainer(straight, SftParts.load(straight))) {
      trainer.addListener((step, metrics) -> {
        if (step == 3) Trees.copy(dir.resolve("straight"), killed);
      });
      a = trainer.run();
    }
    assertEquals(List.of("iter-000002"), listNames(killed.resolve("checkpoints")));
    assertTrue(Files.exists(killed.resolve("checkpoints/iter-000002").resolve(Checkpoint.OPTIMIZER)));

    List<String> again = new ArrayList<>(sets);
    again.add("run.resume=true");
    SftRunConfig resume = config("killed", again.toArray(String[]::new));
    SftResult b;
    try (SftTrainer trainer = new SftTrainer(resume, SftParts.load(resume))) {
      assertEquals(2, trainer.steps());
      b = trainer.run();
    }
    assertEquals(a.steps(), b.steps());
    assertEquals(MetricsLog.read(dir.resolve("straight/metrics.jsonl")), MetricsLog.read(killed.resolve("metrics.jsonl")));
    assertArrayEquals(Files.readAllBytes(a.checkpoint().resolve("model.safetensors")),
        Files.readAllBytes(b.checkpoint().resolve("model.safetensors")), "bitwise the same weights");
    assertEquals(List.of("iter-000006"), listNames(killed.resolve("checkpoints")), "the newest replaces the older");
  }

  private static List<String> listNames(Path dir) throws IOException {
    try (var entries = Files.list(dir)) {
      return entries.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
