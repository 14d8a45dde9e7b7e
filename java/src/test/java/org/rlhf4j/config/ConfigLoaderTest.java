package org.rlhf4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.MemoryOptions;
import org.rlhf4j.engine.PpoOptions.KlEstimator;

class ConfigLoaderTest {
  /** The least a runnable ppo config needs: the policy, the reward model and the prompts. */
  private static final String REQUIRED = """
      model:
        path: models/sft
      reward:
        model_path: models/rm
      data:
        prompts: prompts.jsonl
      """;

  @TempDir Path dir;

  private final ConfigLoader<PpoRunConfig> loader = PpoRunConfig.loader();

  private Path file(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text);
    return p;
  }

  private PpoRunConfig load(String yaml, String... overrides) throws IOException {
    return loader.load(file("config.yaml", yaml), List.of(overrides));
  }

  private String error(String yaml, String... overrides) throws IOException {
    Path p = file("config.yaml", yaml);
    ConfigException e = assertThrows(ConfigException.class, () -> loader.load(p, List.of(overrides)));
    return e.getMessage().replace(p.toString(), "config.yaml");
  }

  @Test
  void absentKeysTakeTheirDefaults() throws IOException {
    PpoRunConfig c = load(REQUIRED);
    PpoRunConfig d = PpoRunConfig.defaults();
    assertEquals(Path.of("models/sft"), c.model().path());
    assertEquals(Path.of("models/rm"), c.reward().modelPath());
    assertEquals(Path.of("prompts.jsonl"), c.data().prompts());
    assertEquals(d.ppo(), c.ppo());
    assertEquals(d.optim(), c.optim());
    assertEquals(d.schedule(), c.schedule());
    assertEquals(1.41e-5, c.optim().lr());
    assertEquals(Path.of("runs/ppo"), c.run().out());
  }

  @Test
  void unknownKeyIsRejectedWithTheNearestKey() throws IOException {
    assertEquals("unknown key 'ppo.clip_range' in config.yaml; did you mean 'ppo.cliprange'?",
        error(REQUIRED + "ppo:\n  clip_range: 0.1\n"));
    assertEquals("unknown key 'ppo.epochs' in config.yaml; did you mean 'ppo.ppo_epochs'?",
        error(REQUIRED + "ppo:\n  epochs: 2\n"));
  }

  @Test
  void unknownKeyThatLivesInAnotherSectionPointsThere() throws IOException {
    assertEquals("unknown key 'ppo.lr' in config.yaml; did you mean 'optim.lr'?", error(REQUIRED + "ppo:\n  lr: 1e-4\n"));
  }

  @Test
  void unknownKeyFarFromAllListsTheSection() throws IOException {
    String m = error(REQUIRED + "generation:\n  beam_width: 4\n");
    assertEquals("unknown key 'generation.beam_width' in config.yaml; keys of generation: max_new_tokens, "
        + "temperature, top_k, top_p, stop_token, num_samples", m);
    assertTrue(error(REQUIRED + "sft:\n  epochs: 1\n").startsWith("unknown key 'sft' in config.yaml; sections: run,"));
  }

  @Test
  void valueOutOfRangeNamesTheKeyPath() throws IOException {
    assertEquals("ppo.cliprange must be > 0, got -1", error(REQUIRED + "ppo:\n  cliprange: -1\n"));
    assertEquals("data.eval_fraction must be in [0, 1), got 1", error(REQUIRED, "data.eval_fraction=1"));
    assertEquals("run.device must be cpu, cuda or cuda:N, got 'gpu'", error(REQUIRED + "run:\n  device: gpu\n"));
    assertEquals("schedule.checkpoint_every must be >= 1, got 0", error(REQUIRED + "schedule:\n  checkpoint_every: 0\n"));
  }

  @Test
  void crossFieldRulesNameBothKeys() throws IOException {
    assertEquals("ppo.minibatch_size (5) must divide schedule.rollout_batch x generation.num_samples (16 x 1 = 16)",
        error(REQUIRED + "ppo:\n  minibatch_size: 5\n  micro_batch_size: 5\n"));
    assertEquals("ppo.micro_batch_size (3) must divide ppo.minibatch_size (8)",
        error(REQUIRED + "ppo:\n  micro_batch_size: 3\n"));
    assertTrue(error(REQUIRED + "schedule:\n  iterations: 10\n  warmup_steps: 80\n")
        .startsWith("schedule.warmup_steps (80) must be less than the total optimizer steps (80 ="));
    assertEquals("reward.kind function needs exactly one of reward.function (a class) and reward.functions (a list)",
        error(REQUIRED.replace("model_path: models/rm", "kind: function")));
    assertTrue(error(REQUIRED + "schedule:\n  eval_prompts: 8\n", "data.eval_fraction=0")
        .startsWith("schedule.eval_prompts is 8 but there are no held-out prompts"));
  }

  @Test
  void requiredPathsAreNamed() throws IOException {
    assertEquals("model.path is required: the checkpoint directory of the SFT policy",
        error(REQUIRED.replace("path: models/sft", "dtype: f32")));
  }

  @Test
  void wrongTypeNamesTheKeyAndTheExpectedType() throws IOException {
    assertEquals("ppo.ppo_epochs in config.yaml must be an integer (at most 2147483647), got 'four'",
        error(REQUIRED + "ppo:\n  ppo_epochs: four\n"));
    assertEquals("ppo.kl_estimator in config.yaml must be one of k1, k3, full, got 'k2'",
        error(REQUIRED + "ppo:\n  kl_estimator: k2\n"));
    assertEquals("ppo.clip_ratio in config.yaml must be true or false, got 1",
        error(REQUIRED + "ppo:\n  clip_ratio: 1\n"));
    assertEquals("ppo.cliprange in config.yaml must be a number, got null", error(REQUIRED + "ppo:\n  cliprange:\n"));
    assertEquals("generation.stop_token in config.yaml must be a string, got true (quote it to mean text)",
        error(REQUIRED + "generation:\n  stop_token: yes\n"));
    assertEquals("schedule in config.yaml must be a section (a mapping of keys), got 3", error(REQUIRED + "schedule: 3\n"));
  }

  @Test
  void yamlSyntaxErrorGivesFileAndLine() throws IOException {
    String m = error("model:\n  path: a\n    dtype: f32\n");
    assertTrue(m.startsWith("config.yaml:3: invalid YAML: mapping values are not allowed here"), m);
    assertTrue(error("ppo:\n  lam: 1\n  lam: 0.9\n").startsWith("config.yaml:3: invalid YAML: Duplicate field 'lam'"));
  }

  @Test
  void jsonFilesAreReadToo() throws IOException {
    Path p = file("config.json", """
        {"model": {"path": "m"}, "reward": {"model_path": "r"}, "data": {"prompts": "p"}, "ppo": {"lam": 0.9}}
        """);
    assertEquals(0.9, loader.load(p, List.of()).ppo().lam());
    Path bad = file("bad.json", "{\"model\": {\n\"path\": }\n}");
    ConfigException e = assertThrows(ConfigException.class, () -> loader.load(bad, List.of()));
    assertTrue(e.getMessage().startsWith(bad + ":2: invalid JSON: "), e.getMessage());
  }

  @Test
  void missingFileIsAConfigError() {
    Path p = dir.resolve("nope.yaml");
    assertEquals("config file not found: " + p,
        assertThrows(ConfigException.class, () -> loader.load(p, List.of())).getMessage());
  }

  @Test
  void standardPresetDiffersFromSeedExactlyInTheDocumentedKeys() {
    var seed = ConfigLoader.tree(PpoSection.defaults());
    var standard = ConfigLoader.tree(preset("standard"));
    List<String> differ = seed.propertyStream().map(e -> e.getKey())
        .filter(k -> !seed.get(k).equals(standard.get(k))).sorted().toList();
    assertEquals(List.of("adaptive_kl", "clip_ratio", "clip_value", "lam", "preset", "whiten_advantages"), differ);
    assertEquals(0.95, preset("standard").lam());
    assertEquals(0.2, preset("standard").klCoef());
    assertEquals(6, preset("standard").klTarget());
    assertEquals(10000, preset("standard").klHorizon());
  }

  @Test
  void seedPresetIsTheSeedAlgorithm() {
    PpoSection s = preset("seed");
    assertEquals(PpoSection.defaults(), s);
    assertEquals(KlEstimator.K1, s.klEstimator());
    assertEquals(List.of(0.2, 1.0, 1.0, 0.2, 0.2, 0.1, 0.0), List.of(s.klCoef(), s.gamma(), s.lam(), s.cliprange(),
        s.cliprangeValue(), s.vfCoef(), s.entCoef()));
    assertEquals(List.of(false, false, false, false), List.of(s.adaptiveKl(), s.whitenAdvantages(), s.clipRatio(),
        s.clipValue()));
    assertEquals(List.of(4, 8, 8), List.of(s.ppoEpochs(), s.minibatchSize(), s.microBatchSize()));
    assertNull(s.targetKl());
  }

  @Test
  void presetSuppliesDefaultsAndExplicitKeysOverrideIt() throws IOException {
    assertEquals(preset("standard"), load(REQUIRED + "ppo:\n  preset: standard\n").ppo());
    PpoSection p = load(REQUIRED + "ppo:\n  lam: 0.9\n  preset: standard\n  clip_value: false\n").ppo();
    PpoSection expected = preset("standard");
    assertEquals(new PpoSection(PpoPreset.STANDARD, expected.klEstimator(), 0.2, true, 6, 10000, 1, 0.9, true, true,
        0.2, false, 0.2, 0.1, 0, 4, 8, 8, null, expected.estimator(), expected.scaleRewards(), expected.klIn(),
        expected.klLossEstimator(), 0, expected.lossAgg(), null, null, null, expected.importanceSampling(), false,
        false, 0, 0, null, 0, RolloutCorrection.NONE, 3.0, null, false, false), p);
    assertEquals(preset("standard"), load(REQUIRED, "ppo.preset=standard").ppo());
    assertEquals(0.5, load(REQUIRED + "ppo:\n  lam: 0.5\n").ppo().lam());
    assertEquals(PpoPreset.SEED, load(REQUIRED + "ppo:\n  lam: 0.5\n").ppo().preset());
  }

  /** A preset is its --set's: beneath the file and every --set, visible in the effective config. */
  @Test
  void presetAppliesAsSetBeneathWhatTheUserWrote() throws IOException {
    PpoRunConfig dapo = load(REQUIRED, "ppo.preset=dapo", "ppo.cliprange_high=0.3");
    assertEquals(0.3, dapo.ppo().cliprangeHigh(), "--set after the preset wins");
    assertEquals(0.3, load(REQUIRED, "ppo.cliprange_high=0.3", "ppo.preset=dapo").ppo().cliprangeHigh(),
        "so does a --set before it (PpoCommand puts --preset after every --set)");
    assertEquals(0.3, load(REQUIRED + "ppo:\n  cliprange_high: 0.3\n", "ppo.preset=dapo").ppo().cliprangeHigh());
    assertEquals(0.2, dapo.ppo().cliprangeLow());
    String yaml = PpoRunConfig.loader().toYaml(dapo);
    assertTrue(yaml.contains("dynamic_sampling: true") && yaml.contains("max_resample_batches: 10"), yaml);
    for (PpoPreset preset : PpoPreset.values()) {
      PpoSection section = preset(preset.name().toLowerCase(java.util.Locale.ROOT));
      var tree = ConfigLoader.tree(section);
      var seed = ConfigLoader.tree(PpoSection.defaults());
      List<String> differ = seed.propertyStream().map(e -> e.getKey())
          .filter(k -> !k.equals("preset") && !seed.get(k).equals(tree.get(k))).toList();
      assertEquals(List.copyOf(preset.overrides().keySet()), differ, preset + " changes exactly its keys");
    }
    ConfigException bad = assertThrows(ConfigException.class, () -> load(REQUIRED, "ppo.preset=dapo",
        "ppo.max_resample_batches=-1"));
    assertEquals("ppo.max_resample_batches must be >= 0, got -1", bad.getMessage());
  }

  private static PpoSection preset(String name) {
    return PpoRunConfig.loader().defaults(List.of("ppo.preset=" + name)).ppo();
  }

  @Test
  void setOverridesTheFileAndLaterOnesWin() throws IOException {
    PpoRunConfig c = load(REQUIRED + "ppo:\n  cliprange: 0.1\n", "ppo.cliprange=0.3", "schedule.time_budget=20m",
        "ppo.target_kl=0.05", "ppo.target_kl=0.1", "run.out=runs/x", "model.dtype=BF16", "generation.stop_token=.");
    assertEquals(0.3, c.ppo().cliprange());
    assertEquals(Duration.ofMinutes(20), c.schedule().timeBudget());
    assertEquals(0.1, c.ppo().targetKl());
    assertEquals(Path.of("runs/x"), c.run().out());
    assertEquals(Precision.BF16, c.model().dtype());
    assertEquals(".", c.generation().stopToken());
    assertNull(load(REQUIRED + "ppo:\n  target_kl: 0.1\n", "ppo.target_kl=null").ppo().targetKl());
  }

  @Test
  void setWorksWithoutAFile() {
    PpoRunConfig c = loader.load(List.of("model.path=m", "reward.model_path=r", "data.prompts=p", "optim.lr=1e-4"));
    assertEquals(1e-4, c.optim().lr());
  }

  @Test
  void badSetIsNamedAsSuch() throws IOException {
    assertEquals("unknown key 'ppo.clip_range' in --set; did you mean 'ppo.cliprange'?",
        error(REQUIRED, "ppo.clip_range=0.1"));
    assertEquals("--set expects key.path=value, got 'ppo.cliprange'", error(REQUIRED, "ppo.cliprange"));
    assertEquals("ppo.cliprange in --set must be a number, got a list [1,2]", error(REQUIRED, "ppo.cliprange=[1, 2]"));
    assertEquals("ppo.cliprange in --set must be a number, got 'big'", error(REQUIRED + "ppo:\n  cliprange: 0.1\n",
        "ppo.cliprange=big"));
    assertTrue(error(REQUIRED, "ppo.cliprange=[1,").startsWith("--set ppo.cliprange=[1,: invalid YAML value: "));
  }

  @Test
  void effectiveConfigRoundTrips() throws IOException {
    PpoRunConfig c = load("""
        run: {seed: 7, device: "cuda:1", on_nonfinite: stop, resume: true}
        model: {path: models/sft, critic: separate, critic_path: models/critic, dtype: bf16}
        reward: {model_path: models/rm, score_clip: 5, score_norm: true, missing_eos_penalty: -1.5}
        data: {prompts: p.txt, format: text, eval_prompts: e.txt, too_long: truncate, shuffle: false}
        generation: {top_k: 50, top_p: 0.9, stop_token: ".", temperature: 0.7}
        ppo: {preset: standard, lam: 0.9, kl_estimator: k3, target_kl: 0.02}
        optim: {lr: 1e-6, weight_decay: 0.01, max_grad_norm: 0}
        schedule: {time_budget: PT1H30M, decay: cosine, warmup_steps: 10, min_lr_ratio: 0.1}
        """);
    String yaml = loader.toYaml(c);
    assertTrue(yaml.contains("time_budget: 1h30m"), yaml);
    assertTrue(yaml.contains("kl_estimator: k3"), yaml);
    Path written = dir.resolve("effective.yaml");
    loader.write(c, written);
    assertEquals(c, loader.load(written, List.of()));
    PpoRunConfig plain = load(REQUIRED);
    assertEquals(plain, loader.load(file("plain.yaml", loader.toYaml(plain)), List.of()));
  }

  @Test
  void sftAndRmHaveTheirOwnDefaultsAndRoundTrip() throws IOException {
    ConfigLoader<SftRunConfig> sft = SftRunConfig.loader();
    ConfigLoader<RmRunConfig> rm = RmRunConfig.loader();
    SftRunConfig s = sft.load(List.of("model.path=m", "data.prompts=p", "sft.epochs=1"));
    assertEquals(1, s.sft().epochs());
    assertEquals(3e-4, s.optim().lr());
    RmRunConfig r = rm.load(List.of("model.path=m", "data.prompts=p"));
    assertEquals(2, r.rm().epochs());
    assertEquals(1e-4, r.optim().lr());
    assertEquals(Path.of("runs/rm"), r.run().out());
    assertEquals("rm.micro_batch_size (5) must divide rm.batch_size (16)", assertThrows(ConfigException.class,
        () -> rm.load(List.of("model.path=m", "data.prompts=p", "rm.micro_batch_size=5"))).getMessage());
    assertEquals("sft.epochs must be >= 1, got 0", assertThrows(ConfigException.class,
        () -> sft.load(List.of("model.path=m", "data.prompts=p", "sft.epochs=0"))).getMessage());
    assertEquals(s, sft.load(file("sft.yaml", sft.toYaml(s)), List.of()));
  }

  @Test
  void memoryKeysDefaultToChunkedLogitsAndReachEveryCommand() {
    PpoRunConfig p = loader.load(List.of("model.path=m", "reward.model_path=r", "data.prompts=p"));
    assertEquals(new MemoryOptions(256, false), p.model().memory());
    PpoRunConfig q = loader.load(List.of("model.path=m", "reward.model_path=r", "data.prompts=p",
        "model.logits_chunk=0", "model.gradient_checkpointing=true"));
    assertEquals(new MemoryOptions(0, true), q.model().memory());
    SftRunConfig s = SftRunConfig.loader().load(List.of("model.path=m", "data.prompts=p", "model.logits_chunk=64"));
    assertEquals(64, s.model().memory().logitsChunk());
    assertTrue(assertThrows(ConfigException.class, () -> loader.load(List.of("model.path=m", "reward.model_path=r",
        "data.prompts=p", "model.logits_chunk=-1"))).getMessage().contains("logits_chunk must be >= 0, got -1"));
    assertEquals(128, p.model().memory().attentionChunk());
    PpoRunConfig a = loader.load(List.of("model.path=m", "reward.model_path=r", "data.prompts=p",
        "model.attention_chunk=0"));
    assertEquals(new MemoryOptions(256, false, 0), a.model().memory());
    assertEquals(32, RmRunConfig.loader().load(List.of("model.path=m", "data.prompts=p", "model.attention_chunk=32"))
        .model().memory().attentionChunk());
    assertTrue(assertThrows(ConfigException.class, () -> loader.load(List.of("model.path=m", "reward.model_path=r",
        "data.prompts=p", "model.attention_chunk=-1"))).getMessage().contains(
            "model.attention_chunk must be >= 0, got -1"));
  }

  @Test
  void rolloutCorrectionKeysAndTheirBounds() throws IOException {
    PpoSection p = load(REQUIRED, "ppo.rollout_correction=sequence_mask", "ppo.rollout_correction_min=0.5").ppo();
    assertEquals(RolloutCorrection.SEQUENCE_MASK, p.rolloutCorrection());
    assertEquals(3.0, p.rolloutCorrectionMax(), "TRL's cap");
    assertTrue(p.measuresRolloutMismatch());
    assertTrue(!load(REQUIRED).ppo().measuresRolloutMismatch(), "off by default");
    String why = assertThrows(ConfigException.class, () -> load(REQUIRED, "ppo.rollout_correction_min=3",
        "ppo.rollout_correction_max=2")).getMessage();
    assertTrue(why.contains("ppo.rollout_correction_min (3.0) must be below ppo.rollout_correction_max (2.0)"), why);
  }

  @Test
  void helpListsEveryKeyWithDefaultAndDescription() {
    String help = loader.help();
    for (ConfigKey k : loader.keys()) {
      assertTrue(help.contains(k.path()), k.path());
      assertTrue(!k.doc().isBlank(), k.path());
    }
    assertEquals(7 + 12 + 12 + 8 + 6 + 7 + 40 + 6 + 10, loader.keys().size());
    ConfigKey cliprange = loader.keys().stream().filter(k -> k.path().equals("ppo.cliprange")).findFirst().orElseThrow();
    assertEquals(new ConfigKey("ppo.cliprange", "float", "0.2",
        "Clip range of the policy ratio (when clip_ratio; both sides unless cliprange_low/high say)."), cliprange);
    assertTrue(help.contains("ppo.preset standard sets: adaptive_kl true, lam 0.95, whiten_advantages true, "
        + "clip_ratio true, clip_value true"), help);
    assertTrue(help.lines().anyMatch(l -> l.matches("\\s+schedule\\.time_budget\\s+duration or null\\s+null\\s+Stop.*")),
        help);
  }
}
