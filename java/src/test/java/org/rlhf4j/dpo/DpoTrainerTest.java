package org.rlhf4j.dpo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DpoRunConfig;
import org.rlhf4j.data.DataException;
import org.rlhf4j.metrics.MetricsLog;
import org.rlhf4j.metrics.MetricsRecord;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.testing.Trees;
import org.rlhf4j.testing.Weights;
import org.rlhf4j.testing.ToyPreferences;
import org.rlhf4j.train.SupervisedTrainer.Outcome;

/** DPO end to end on a tiny model: it learns, step 0 is ln 2, the references agree, resume is bitwise. */
class DpoTrainerTest {
  @TempDir Path dir;

  private DpoRunConfig config(String run, List<String> extra) throws IOException {
    Path model = dir.resolve("model");
    if (!Files.exists(model)) TinyCheckpoints.write(model, TinyCheckpoints.gpt2());
    Path prefs = dir.resolve("prefs.jsonl");
    if (!Files.exists(prefs)) ToyPreferences.write(prefs, 48, 1);
    List<String> sets = new ArrayList<>(List.of("model.path=" + model, "data.prompts=" + prefs,
        "run.out=" + dir.resolve(run), "data.eval_fraction=0.25", "data.max_prompt_tokens=8", "dpo.max_length=16",
        "dpo.epochs=2", "dpo.batch_size=6", "dpo.micro_batch_size=3", "dpo.beta=0.5", "optim.lr=3e-3", "run.seed=2"));
    sets.addAll(extra);
    return DpoRunConfig.loader().load(sets);
  }

  private static List<String> concat(List<String> a, String b) {
    List<String> out = new ArrayList<>(a);
    out.add(b);
    return out;
  }

  private Outcome train(DpoRunConfig config) throws IOException {
    try (DpoTrainer trainer = new DpoTrainer(config, DpoParts.load(config))) {
      return trainer.train();
    }
  }

  @Test
  void learnsAToyPreferenceStartingFromLn2() throws IOException {
    Outcome o = train(config("run", List.of()));
    List<MetricsRecord> lines = MetricsLog.read(dir.resolve("run/metrics.jsonl"));
    assertEquals(2 * 6, lines.size());
    // Before the first update the policy is its reference: -log sigmoid(0).
    assertEquals(Math.log(2), lines.getFirst().get("train/loss"), 1e-6);
    assertEquals(0, lines.getFirst().get("rewards/margins"), 1e-6);
    MetricsRecord last = lines.getLast();
    for (String key : List.of("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
        "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "num_tokens", "eval/rewards/margins",
        "eval/rewards/accuracies", "eval/logps/chosen", "eval/loss")) {
      assertTrue(last.values().containsKey(key), key + " in " + last.values().keySet());
    }
    assertTrue(last.get("eval/rewards/accuracies") >= 0.8, "held-out accuracy " + last.get("eval/rewards/accuracies"));
    assertTrue(last.get("eval/rewards/margins") > 0, "held-out margin " + last.get("eval/rewards/margins"));
    assertTrue(o.evalLoss() < Math.log(2), "held-out loss " + o.evalLoss());
    assertEquals(last.get("rewards/accuracies"), last.get("train/accuracy"), 1e-12);
  }

  @Test
  void precomputedReferenceLogprobsGiveTheSameRun() throws IOException {
    Outcome live = train(config("live", List.of()));
    Outcome pre = train(config("pre", List.of("dpo.precompute_ref_logprobs=true")));
    List<MetricsRecord> a = MetricsLog.read(dir.resolve("live/metrics.jsonl"));
    List<MetricsRecord> b = MetricsLog.read(dir.resolve("pre/metrics.jsonl"));
    for (int i = 0; i < a.size(); i++) assertEquals(a.get(i).get("train/loss"), b.get(i).get("train/loss"), 1e-5);
    // The reference's rows are padded to other lengths when precomputed, so its log-probs round
    // differently (~1e-7); after 12 steps at lr 3e-3 the weights differ by ~1e-5.
    Weights.assertClose(live.checkpoint().resolve("model.safetensors"), pre.checkpoint().resolve("model.safetensors"), 1e-4);
  }

  @Test
  void aTokenBudgetTakesTheStepsOfFixedMicroBatches() throws IOException {
    // AdamW with eps 1 steps by about lr x gradient, so the weights compare the gradients.
    List<String> common = List.of("dpo.epochs=1", "optim.lr=0.3", "optim.eps=1");
    Outcome fixed = train(config("fixed", concat(common, "dpo.micro_batch_size=6")));
    Outcome cut = train(config("cut", concat(common, "dpo.max_tokens_per_micro_batch=48")));
    Outcome alone = train(config("alone", concat(common, "dpo.max_tokens_per_micro_batch=1")));
    // The precomputed reference in budgeted micro-batches too: pairs padded otherwise round otherwise (~1e-7).
    List<String> pre = new ArrayList<>(common);
    pre.addAll(List.of("dpo.max_tokens_per_micro_batch=48", "dpo.precompute_ref_logprobs=true"));
    Outcome precomputed = train(config("pre", pre));
    Weights.assertClose(fixed.checkpoint().resolve("model.safetensors"),
        precomputed.checkpoint().resolve("model.safetensors"), 1e-5);
    Weights.assertClose(fixed.checkpoint().resolve("model.safetensors"), cut.checkpoint().resolve("model.safetensors"),
        1e-5);
    Weights.assertClose(fixed.checkpoint().resolve("model.safetensors"),
        alone.checkpoint().resolve("model.safetensors"), 1e-5);
  }

  @Test
  void aLoraPolicyUsesItsBaseAsTheReference() throws IOException {
    train(config("lora", List.of("model.lora.r=4", "model.lora.alpha=8", "model.lora.dropout=0", "optim.lr=1e-2")));
    List<MetricsRecord> lines = MetricsLog.read(dir.resolve("lora/metrics.jsonl"));
    assertEquals(Math.log(2), lines.getFirst().get("train/loss"), 1e-6);
    assertTrue(lines.getLast().get("rewards/margins") > 0, "the adapters learned the preference");
  }

  @Test
  void aStoppedRunResumesToTheWeightsOfAStraightOne() throws IOException {
    Outcome a = train(config("straight", List.of()));
    DpoRunConfig cut = config("cut", List.of());
    try (DpoTrainer trainer = new DpoTrainer(cut, DpoParts.load(cut))) {
      trainer.addListener((step, metrics) -> {
        if (step == 4) trainer.requestStop();
      });
      assertEquals(4, trainer.train().steps());
    }
    Outcome b = train(config("cut", List.of("run.resume=true")));
    assertEquals(MetricsLog.read(dir.resolve("straight/metrics.jsonl")), MetricsLog.read(dir.resolve("cut/metrics.jsonl")));
    assertArrayEquals(Files.readAllBytes(a.checkpoint().resolve("model.safetensors")),
        Files.readAllBytes(b.checkpoint().resolve("model.safetensors")), "bitwise the same weights");
  }

  @Test
  void aRunKilledAfterItsPeriodicCheckpointResumesToTheWeightsOfAStraightOne() throws IOException {
    // A checkpoint every 2 steps; "killed" after step 3: what is on disk then is copied away, as a
    // SIGKILL would leave it (iter-2, metrics up to step 3), and the copy resumes.
    Path killed = dir.resolve("killed");
    DpoRunConfig straight = config("straight", List.of("dpo.save_steps=2"));
    Outcome a;
    try (DpoTrainer trainer = new DpoTrainer(straight, DpoParts.load(straight))) {
      trainer.addListener((step, metrics) -> {
        if (step == 3) Trees.copy(dir.resolve("straight"), killed);
      });
      a = trainer.train();
    }
    Outcome b = train(config("killed", List.of("dpo.save_steps=2", "run.resume=true")));
    assertEquals(MetricsLog.read(dir.resolve("straight/metrics.jsonl")), MetricsLog.read(killed.resolve("metrics.jsonl")));
    assertArrayEquals(Files.readAllBytes(a.checkpoint().resolve("model.safetensors")),
        Files.readAllBytes(b.checkpoint().resolve("model.safetensors")), "bitwise the same weights");
  }

  @Test
  void badPairsNameTheirLineAndLongPromptsAreCounted() throws IOException {
    Path model = TinyCheckpoints.write(dir.resolve("model"), TinyCheckpoints.gpt2());
    Path missing = Files.write(dir.resolve("missing.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"chosen\": \" good\", \"rejected\": \" bad\"}",
        "{\"prompt\": \"one two\", \"rejected\": \" bad\"}"));
    var e = assertThrows(DataException.class, () -> DpoParts.load(DpoRunConfig.loader().load(List.of(
        "model.path=" + model, "data.prompts=" + missing, "data.eval_fraction=0", "dpo.max_length=16"))));
    assertTrue(e.getMessage().contains("missing.jsonl:2") && e.getMessage().contains("'chosen'"), e.getMessage());

    Path empty = Files.write(dir.resolve("empty.jsonl"), List.of(
        "{\"prompt\": \"one two\", \"chosen\": \"\", \"rejected\": \" bad\"}"));
    e = assertThrows(DataException.class, () -> DpoParts.load(DpoRunConfig.loader().load(List.of(
        "model.path=" + model, "data.prompts=" + empty, "data.eval_fraction=0", "dpo.max_length=16"))));
    assertTrue(e.getMessage().contains("empty.jsonl:1") && e.getMessage().contains("'chosen' is empty"), e.getMessage());

    Path mixed = Files.write(dir.resolve("mixed.jsonl"), List.of(
        "{\"prompt\": \"one two three four five six seven eight\", \"chosen\": \" good\", \"rejected\": \" bad\"}",
        "{\"prompt\": \"one two\", \"chosen\": \" good\", \"rejected\": \" bad\"}"));
    try (DpoParts parts = DpoParts.load(DpoRunConfig.loader().load(List.of("model.path=" + model,
        "data.prompts=" + mixed, "data.eval_fraction=0", "data.max_prompt_tokens=4", "dpo.max_length=8")))) {
      assertEquals(1, parts.data().train().size());
      assertEquals(1, parts.data().skippedTooLong());
    }
  }
}
