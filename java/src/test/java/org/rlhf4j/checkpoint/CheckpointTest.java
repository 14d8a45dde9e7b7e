package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rlhf4j.checkpoint.ModelTensors.assertSame;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.testing.HfTensorNames;

/** Checkpoint directories with real (tiny) native models. */
class CheckpointTest {
  @TempDir Path tmp;

  private static final ModelConfig POLICY = ModelConfig.gpt2(64, 32, 16, 2, 2).withValueHead(true);

  /** One SFT-style step, so the optimizer holds non-zero moments and a step count. */
  private static void trainOneStep(Model model, Optimizer optimizer) {
    TokenBatch batch = TokenBatch.rightPadded(List.of(new int[] {1, 5, 9, 13}, new int[] {2, 4, 8}), 0);
    byte[] lossMask = batch.mask().clone();
    model.lmLoss(batch, lossMask, 1.0, true);
    optimizer.step(1e-2);
  }

  private static CheckpointException rejected(Path dir, Model model, LoadOptions options) {
    return assertThrows(CheckpointException.class, () -> Checkpoint.open(dir).loadWeights(model, options));
  }

  private Path modelDir(String name, ModelTensors tensors, ModelConfig config) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Files.write(dir.resolve("config.json"), Json.bytes(HfConfig.of(config).toJson()));
    tensors.write(dir.resolve("model.safetensors"));
    return dir;
  }

  @Test
  void roundTripsModelsOptimizersAndTheCallersFiles() throws IOException {
    ModelConfig criticConfig = ModelConfig.gpt2(64, 32, 16, 1, 2).withValueHead(true);
    JsonNode state = new ObjectMapper().readTree("{\"iteration\": 10, \"kl_coef\": 0.2, \"rng\": [1, 2]}");
    byte[] tokenizer = "{\"model\": {\"type\": \"WordLevel\"}}".getBytes(StandardCharsets.UTF_8);
    Path dir = tmp.resolve("iter-000010");
    try (Model policy = Model.create(POLICY.withSeed(1), "cpu");
        Model critic = Model.create(criticConfig.withSeed(2), "cpu");
        Optimizer policyOpt = Optimizer.create(policy, Optimizer.AdamW.defaults());
        Optimizer criticOpt = Optimizer.create(critic, Optimizer.AdamW.defaults())) {
      trainOneStep(policy, policyOpt);
      trainOneStep(critic, criticOpt);
      new CheckpointWriter().model(policy).subModel("critic", critic, HfConfig.of(critic.config()))
          .optimizer("policy.", policyOpt).optimizer("critic.", criticOpt)
          .file("tokenizer.json", tokenizer).file("extra/notes.txt", "hi".getBytes(StandardCharsets.UTF_8))
          .trainerState(state).writeTo(dir, false);

      Checkpoint checkpoint = Checkpoint.open(dir);
      assertTrue(Checkpoint.isComplete(dir));
      try (Stream<Path> siblings = Files.list(tmp)) {
        assertEquals(List.of(dir), siblings.toList(), "no temp directory is left behind");
      }
      Checkpoint.Loaded policy2 = checkpoint.loadModel("cpu", c -> c.withSeed(99), LoadOptions.strict());
      Checkpoint.Loaded critic2 = checkpoint.subModel("critic").loadModel("cpu", c -> c.withSeed(98), LoadOptions.strict());
      try (Model p2 = policy2.model(); Model c2 = critic2.model();
          Optimizer p2Opt = Optimizer.create(p2, Optimizer.AdamW.defaults());
          Optimizer c2Opt = Optimizer.create(c2, Optimizer.AdamW.defaults())) {
        assertEquals(POLICY.withSeed(99), p2.config());
        assertSame(ModelTensors.of(policy), ModelTensors.of(p2));
        assertSame(ModelTensors.of(critic), ModelTensors.of(c2));
        assertEquals(HfTensorNames.GPT2_TWO_LAYERS_WITH_VALUE_HEAD, policy2.report().loaded());
        assertTrue(policy2.report().freshHeads().isEmpty());
        checkpoint.loadOptimizer(p2Opt, "policy.");
        checkpoint.loadOptimizer(c2Opt, "critic.");
        assertSame(ModelTensors.of(policyOpt), ModelTensors.of(p2Opt));
        assertSame(ModelTensors.of(criticOpt), ModelTensors.of(c2Opt));
        assertThrows(CheckpointException.class, () -> checkpoint.loadOptimizer(c2Opt, "policy."));
      }
      assertEquals(state, checkpoint.trainerState().orElseThrow());
      assertArrayEquals(tokenizer, Files.readAllBytes(dir.resolve("tokenizer.json")));
      assertEquals("hi", Files.readString(dir.resolve("extra/notes.txt")));

      CheckpointException exists = assertThrows(CheckpointException.class,
          () -> new CheckpointWriter().model(policy).writeTo(dir, false));
      assertTrue(exists.getMessage().contains("already exists"), exists.getMessage());
    }
  }

  @Test
  void savedGpt2HasHuggingFaceNamesKeysAndFormatMetadata() throws IOException {
    Path dir = tmp.resolve("gpt2");
    try (Model model = Model.create(POLICY, "cpu")) {
      new CheckpointWriter().model(model, HfConfig.of(model.config()).withTokenIds(0, List.of(0), 0)).writeTo(dir, false);
    }
    try (SafetensorsFile file = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
      assertEquals(HfTensorNames.GPT2_TWO_LAYERS_WITH_VALUE_HEAD, file.tensors().stream().map(TensorEntry::name).toList());
      assertEquals("pt", file.metadata().get("format"));
      assertArrayEquals(new long[] {16, 48}, file.find("transformer.h.0.attn.c_attn.weight").orElseThrow().info().shape(),
          "Conv1D weights are [in, out]");
    }
    JsonNode config = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
    List<String> keys = new ArrayList<>();
    config.fieldNames().forEachRemaining(keys::add);
    assertTrue(keys.containsAll(List.of("architectures", "model_type", "vocab_size", "n_positions", "n_embd", "n_layer",
        "n_head", "n_inner", "activation_function", "resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon",
        "initializer_range", "bos_token_id", "eos_token_id", "pad_token_id", "tie_word_embeddings", "torch_dtype")), keys.toString());
  }

  @Test
  void roundTripsALlamaCheckpointWithBiases() {
    ModelConfig b = ModelConfig.llama(64, 32, 16, 2, 4, 2, 32);
    ModelConfig qwen = new ModelConfig(b.arch(), b.dtype(), b.vocabSize(), b.nPositions(), b.nEmbd(), b.nLayer(), b.nHead(),
        b.nKvHead(), b.nInner(), b.normEps(), 1e6, b.ropeScaling(), b.ropeFactor(), b.ropeLowFreqFactor(),
        b.ropeHighFreqFactor(), b.ropeOriginalMaxPositions(), false, true, true, false, 0.0, 0.02, 3, 0, false);
    Path dir = tmp.resolve("qwen");
    try (Model model = Model.create(qwen, "cpu")) {
      new CheckpointWriter().model(model).writeTo(dir, false);
      Checkpoint checkpoint = Checkpoint.open(dir);
      assertEquals("qwen2", checkpoint.config().modelType());
      try (Model loaded = checkpoint.loadModel("cpu", c -> c.withSeed(4), LoadOptions.strict()).model()) {
        assertTrue(loaded.tensors().stream().anyMatch(t -> t.name().equals("model.layers.0.self_attn.q_proj.bias")));
        assertTrue(loaded.tensors().stream().anyMatch(t -> t.name().equals("lm_head.weight")));
        assertSame(ModelTensors.of(model), ModelTensors.of(loaded));
      }
    }
  }

  @Test
  void loadsShardedWeights() throws IOException {
    try (Model source = Model.create(POLICY.withSeed(5), "cpu"); Model target = Model.create(POLICY.withSeed(6), "cpu")) {
      ModelTensors all = ModelTensors.of(source);
      Path dir = Files.createDirectories(tmp.resolve("sharded"));
      Files.write(dir.resolve("config.json"), Json.bytes(HfConfig.of(POLICY).toJson()));
      all.renamed(n -> n.contains(".h.1.") ? null : n).write(dir.resolve("model-00001-of-00002.safetensors"));
      all.renamed(n -> n.contains(".h.1.") ? n : null).write(dir.resolve("model-00002-of-00002.safetensors"));
      StringBuilder map = new StringBuilder();
      for (String n : all.names()) {
        if (!map.isEmpty()) map.append(",\n");
        map.append("\"").append(n).append("\": \"model-0000").append(n.contains(".h.1.") ? 2 : 1).append("-of-00002.safetensors\"");
      }
      String index = "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {" + map + "}}";
      Files.writeString(dir.resolve("model.safetensors.index.json"), index);
      LoadReport report = Checkpoint.open(dir).loadWeights(target, LoadOptions.strict());
      assertEquals(HfTensorNames.GPT2_TWO_LAYERS_WITH_VALUE_HEAD.size(), report.loaded().size());
      assertSame(all, ModelTensors.of(target));

      Files.writeString(dir.resolve("model.safetensors.index.json"), index.replace("model-00002", "../model-00002"));
      assertTrue(rejected(dir, target, LoadOptions.strict()).getMessage().contains("not a file in"));
      Files.writeString(dir.resolve("model.safetensors.index.json"),
          index.replace("\"transformer.h.1.ln_1.bias\": \"model-00002", "\"transformer.h.1.ln_1.bias\": \"model-00001"));
      assertTrue(rejected(dir, target, LoadOptions.strict()).getMessage()
          .contains("tensor 'transformer.h.1.ln_1.bias' is listed in 'model-00001-of-00002.safetensors', which does not contain it"));
    }
  }

  /** bf16 of x, rounded to nearest even as torch does: the upper half of the float32 bits. */
  private static short bf16(float x) {
    int bits = Float.floatToRawIntBits(x);
    return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
  }

  @Test
  void loadsBf16WeightsRoundedAsBf16() throws IOException {
    try (Model source = Model.create(POLICY.withSeed(7), "cpu"); Model target = Model.create(POLICY.withSeed(8), "cpu")) {
      ModelTensors bf16 = new ModelTensors(new java.util.LinkedHashMap<>(), new java.util.LinkedHashMap<>());
      List<float[]> expected = new ArrayList<>();
      for (var t : source.tensors()) {
        float[] x = source.readFloats(t.name(), t.numel());
        short[] halves = new short[x.length];
        float[] rounded = new float[x.length];
        for (int i = 0; i < x.length; i++) {
          halves[i] = bf16(x[i]);
          rounded[i] = Float.intBitsToFloat(halves[i] << 16);
        }
        bf16.put(ModelTensors.info(t.name(), DType.BF16, t.shape()),
            java.lang.foreign.MemorySegment.ofArray(halves).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        expected.add(rounded);
      }
      Path dir = modelDir("bf16", bf16, POLICY);
      Checkpoint.open(dir).loadWeights(target, LoadOptions.strict());
      int changed = 0;
      List<String> names = bf16.names();
      for (int i = 0; i < names.size(); i++) {
        float[] loaded = target.readFloats(names.get(i), expected.get(i).length);
        assertArrayEquals(expected.get(i), loaded, names.get(i));
        if (!java.util.Arrays.equals(loaded, source.readFloats(names.get(i), loaded.length))) changed++;
      }
      assertTrue(changed > 0, "bf16 rounding changed no weight: the test would not notice a float32 load");
    }
  }

  @Test
  void loadsGpt2FilesSavedWithoutTheTransformerPrefix() throws IOException {
    ModelConfig plain = ModelConfig.gpt2(64, 32, 16, 2, 2);
    try (Model source = Model.create(plain.withSeed(9), "cpu"); Model target = Model.create(plain.withSeed(10), "cpu")) {
      ModelTensors hub = ModelTensors.of(source).renamed(n -> n.substring("transformer.".length()));
      float[] mask = new float[32 * 32];
      hub.put(ModelTensors.info("h.0.attn.bias", DType.F32, 1, 1, 32, 32), ModelTensors.floatBytes(mask));
      hub.put(ModelTensors.info("h.0.attn.masked_bias", DType.F32), ModelTensors.floatBytes(new float[] {-1e4f}));
      hub.put(ModelTensors.info("lm_head.weight", DType.F32, 64, 16), hub.bytes().get("wte.weight"));
      LoadReport report = Checkpoint.open(modelDir("hub", hub, plain)).loadWeights(target, LoadOptions.strict());
      assertSame(ModelTensors.of(source), ModelTensors.of(target));
      assertEquals(List.of("h.0.attn.bias", "h.0.attn.masked_bias", "lm_head.weight"), report.ignored().stream().sorted().toList());
    }
  }

  @Test
  void headsAreAddedOrDroppedOnlyWhenAllowed() throws IOException {
    ModelConfig sft = ModelConfig.gpt2(64, 32, 16, 2, 2);
    try (Model sftModel = Model.create(sft.withSeed(11), "cpu"); Model policy = Model.create(POLICY.withSeed(12), "cpu")) {
      Path sftDir = tmp.resolve("sft");
      new CheckpointWriter().model(sftModel).writeTo(sftDir, false);
      CheckpointException missing = rejected(sftDir, policy, LoadOptions.strict());
      assertTrue(missing.getMessage().contains("missing 2 tensor(s) of the model: 'v_head.summary.weight', 'v_head.summary.bias'"),
          missing.getMessage());
      assertTrue(missing.getMessage().contains("initMissingHeads"), missing.getMessage());

      float[] freshHead = policy.readFloats("v_head.summary.weight", 16);
      LoadReport report = Checkpoint.open(sftDir).loadWeights(policy, new LoadOptions(true, false));
      assertEquals(List.of("v_head.summary.weight", "v_head.summary.bias"), report.freshHeads());
      assertArrayEquals(freshHead, policy.readFloats("v_head.summary.weight", 16), "the value head keeps its init");
      assertArrayEquals(sftModel.readFloats("transformer.wte.weight", 64 * 16), policy.readFloats("transformer.wte.weight", 64 * 16));

      Path policyDir = tmp.resolve("policy");
      new CheckpointWriter().model(policy).writeTo(policyDir, false);
      CheckpointException extra = rejected(policyDir, sftModel, LoadOptions.strict());
      assertTrue(extra.getMessage().contains("tensor 'v_head.summary.weight' is a head the model does not have"),
          extra.getMessage());
      assertEquals(List.of("v_head.summary.weight", "v_head.summary.bias"),
          Checkpoint.open(policyDir).loadWeights(sftModel, LoadOptions.allowHeadChanges()).droppedHeads());
    }
  }

  @Test
  void rejectsWeightsThatDoNotFitNamingTheTensorAndFile() throws IOException {
    ModelConfig config = ModelConfig.gpt2(64, 32, 16, 1, 2);
    try (Model model = Model.create(config, "cpu")) {
      ModelTensors good = ModelTensors.of(model);
      Path file = tmp.resolve("x/model.safetensors");

      ModelTensors shape = good.renamed(n -> n.equals("transformer.wpe.weight") ? null : n);
      shape.put(ModelTensors.info("transformer.wpe.weight", DType.F32, 16, 16), new byte[16 * 16 * 4]);
      String m = rejected(modelDir("x", shape, config), model, LoadOptions.strict()).getMessage();
      assertTrue(m.contains(file + ": tensor 'transformer.wpe.weight' has shape [16, 16] but 'transformer.wpe.weight' needs [32, 16]"), m);

      ModelTensors unexpected = good.renamed(n -> n).put(ModelTensors.info("transformer.h.0.attn.rotary", DType.F32, 1), new byte[4]);
      m = rejected(modelDir("y", unexpected, config), model, LoadOptions.allowHeadChanges()).getMessage();
      assertTrue(m.contains("tensor 'transformer.h.0.attn.rotary' is not a tensor of the model"), m);

      ModelTensors absent = good.renamed(n -> n.equals("transformer.ln_f.bias") ? null : n);
      m = rejected(modelDir("z", absent, config), model, LoadOptions.strict()).getMessage();
      assertTrue(m.contains("missing 1 tensor(s) of the model: 'transformer.ln_f.bias'"), m);

      ModelTensors ints = good.renamed(n -> n.equals("transformer.ln_f.bias") ? null : n)
          .put(ModelTensors.info("transformer.ln_f.bias", DType.I32, 16), new byte[64]);
      m = rejected(modelDir("w", ints, config), model, LoadOptions.strict()).getMessage();
      assertTrue(m.contains("tensor 'transformer.ln_f.bias' has dtype I32"), m);

      float[] nan = new float[16];
      nan[3] = Float.NaN;
      ModelTensors nans = good.renamed(n -> n.equals("transformer.ln_f.bias") ? null : n)
          .put(ModelTensors.info("transformer.ln_f.bias", DType.F32, 16), ModelTensors.floatBytes(nan));
      m = rejected(modelDir("v", nans, config), model, LoadOptions.strict()).getMessage();
      assertTrue(m.contains("tensor 'transformer.ln_f.bias': "), m);
      assertTrue(m.contains("NaN or Inf"), m);
    }
  }

  @Test
  void explainsDirectoriesWithoutUsableWeights() throws IOException {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.open(empty)).getMessage().contains("no config.json"));
    Files.write(empty.resolve("config.json"), Json.bytes(HfConfig.of(POLICY).toJson()));
    Files.write(empty.resolve("pytorch_model.bin"), new byte[] {1});
    try (Model model = Model.create(POLICY, "cpu")) {
      String m = rejected(empty, model, LoadOptions.strict()).getMessage();
      assertTrue(m.contains("no model.safetensors or model.safetensors.index.json") && m.contains("never loads"), m);
    }
    assertFalse(Checkpoint.isComplete(empty));
  }
}
