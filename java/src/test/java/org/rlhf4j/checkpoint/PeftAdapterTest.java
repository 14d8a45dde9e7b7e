package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.cli.Main;
import org.rlhf4j.engine.LoraOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TensorInfo;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.testing.TinyCheckpoints;

/**
 * LoRA checkpoints in PEFT's format. The expected names, shapes and config keys are written
 * from PEFT's documentation (docs/source/developer_guides/checkpoint.md and LoraConfig):
 * adapter_model.safetensors holds base_model.model.&lt;module path&gt;.lora_A.weight [r, in] and
 * .lora_B.weight [out, r], the adapter name stripped; adapter_config.json has peft_type LORA.
 */
class PeftAdapterTest {
  private static final TokenBatch BATCH = TokenBatch.rightPadded(List.of(new int[] {3, 5, 7, 2, 9}, new int[] {4, 1}), 0);

  @TempDir Path tmp;

  private static float[] logprobs(Model m) {
    return m.score(BATCH, 1.0, false, false).logprobs();
  }

  /** B is zero at init: give the adapters values so they change the model. */
  private static void perturbAdapters(Model m) {
    java.util.Random rnd = new java.util.Random(5);
    for (TensorInfo t : m.tensors()) {
      if (!t.name().contains("lora_B")) continue;
      float[] v = new float[(int) t.numel()];
      for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.3);
      m.writeFloats(t.name(), v);
    }
  }

  @Test
  void gpt2NamesShapesAndConfigKeysAreThoseOfPeft() throws IOException {
    ModelConfig c = TinyCheckpoints.gpt2();  // d 32, 2 layers, n_inner 128
    Path out = tmp.resolve("ckpt");
    try (Model m = Model.create(c, "cpu")) {
      m.addLora(new LoraOptions(4, 8, 0.05, List.of(), false, 1));
      new CheckpointWriter().model(m).writeTo(out, false);
    }
    Map<String, long[]> expected = new LinkedHashMap<>();
    long d = c.nEmbd(), inner = c.nInner();
    for (int i = 0; i < c.nLayer(); i++) {
      String p = "base_model.model.transformer.h." + i + ".";
      Object[][] modules = {{"attn.c_attn", d, 3 * d}, {"attn.c_proj", d, d}, {"mlp.c_fc", d, inner}, {"mlp.c_proj", inner, d}};
      for (Object[] mod : modules) {
        expected.put(p + mod[0] + ".lora_A.weight", new long[] {4, (long) mod[1]});
        expected.put(p + mod[0] + ".lora_B.weight", new long[] {(long) mod[2], 4});
      }
    }
    try (SafetensorsFile f = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
      assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(f.tensors().stream().map(TensorEntry::name).toList()));
      for (TensorEntry e : f.tensors()) assertArrayEquals(expected.get(e.name()), e.info().shape(), e.name());
    }
    try (SafetensorsFile base = SafetensorsFile.open(out.resolve("model.safetensors"))) {
      assertTrue(base.tensors().stream().noneMatch(e -> e.name().contains("lora_")));
    }
    JsonNode cfg = Json.read(out.resolve("adapter_config.json"));
    List<String> keys = new ArrayList<>();
    cfg.fieldNames().forEachRemaining(keys::add);
    assertTrue(keys.containsAll(List.of("peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "bias",
        "fan_in_fan_out", "base_model_name_or_path", "task_type", "use_rslora")), keys.toString());
    assertEquals("LORA", cfg.get("peft_type").asText());
    assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
    assertEquals(4, cfg.get("r").asInt());
    assertEquals(8.0, cfg.get("lora_alpha").asDouble());
    assertEquals(0.05, cfg.get("lora_dropout").asDouble());
    assertEquals("none", cfg.get("bias").asText());
    assertTrue(cfg.get("fan_in_fan_out").asBoolean());  // GPT-2's Conv1D
    assertFalse(cfg.get("use_rslora").asBoolean());
    List<String> targets = new ArrayList<>();
    cfg.get("target_modules").forEach(n -> targets.add(n.asText()));
    assertEquals(List.of("c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"), targets);
    assertEquals(out.toAbsolutePath().toString(), cfg.get("base_model_name_or_path").asText());
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "qwen3"})
  void saveLoadMergeRoundTripsAndExportWritesAPlainModel(String arch) throws IOException {
    ModelConfig config = arch.equals("llama") ? TinyCheckpoints.llama() : TinyCheckpoints.qwen3();
    Path model = TinyCheckpoints.write(tmp.resolve("base"), config);
    Path saved = tmp.resolve("lora");
    float[] adapted;
    try (Model m = Checkpoint.open(model).loadModel("cpu", x -> x, LoadOptions.strict()).model()) {
      m.addLora(new LoraOptions(2, 4, 0, List.of("q_proj", "v_proj", "down_proj"), true, 3));
      perturbAdapters(m);
      adapted = logprobs(m);
      CheckpointWriter w = new CheckpointWriter().model(m);
      org.rlhf4j.train.TokenizerFiles.copyInto(w, model);
      w.writeTo(saved, false);
    }
    try (Model back = Checkpoint.open(saved).loadModel("cpu", x -> x, LoadOptions.strict()).model()) {
      LoraOptions lora = back.lora().orElseThrow();
      assertEquals(List.of("q_proj", "v_proj", "down_proj"), lora.targetModules());
      assertTrue(lora.useRslora());
      assertArrayEquals(adapted, logprobs(back));
      back.mergeLora();
      assertArrayEquals(adapted, logprobs(back), 1e-5f);
    }
    for (boolean merge : new boolean[] {false, true}) {
      Path out = tmp.resolve("export-" + merge);
      List<String> args = new ArrayList<>(List.of("export", "--model", saved.toString(), "--out", out.toString()));
      if (merge) args.add("--merge");
      StringWriter o = new StringWriter(), e = new StringWriter();
      assertEquals(0, Main.run(args.toArray(String[]::new), new PrintWriter(o, true), new PrintWriter(e, true)), e.toString());
      for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
        assertTrue(Files.isRegularFile(out.resolve(f)), f);
      }
      assertEquals(!merge, Files.exists(out.resolve("adapter_model.safetensors")));
      assertEquals(arch, Checkpoint.open(out).config().modelType());
      try (Model m = Checkpoint.open(out).loadModel("cpu", x -> x, LoadOptions.strict()).model()) {
        assertEquals(!merge, m.lora().isPresent());
        assertArrayEquals(adapted, logprobs(m), 1e-5f);
      }
    }
  }

  /** Qwen3's projections take adapters of its head size (4 heads of 16 over width 32); its norms take none. */
  @Test
  void qwen3AdaptersFollowItsHeadSizeAndItsNormsAreNoTargets() {
    ModelConfig c = TinyCheckpoints.qwen3();
    try (Model m = Model.create(c, "cpu")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> m.addLora(new LoraOptions(2, 4, 0, List.of("q_proj", "q_norm"), false, 1)));
      assertTrue(e.getMessage().contains("'q_norm' is no projection"), e.getMessage());
      m.addLora(new LoraOptions(2, 4, 0, List.of(), false, 1));
      Map<String, long[]> shapes = new LinkedHashMap<>();
      for (TensorInfo t : m.tensors()) {
        if (t.name().contains("lora_")) shapes.put(t.name(), t.shape());
      }
      assertEquals(2 * 7 * 2, shapes.size(), "A and B on the 7 projections of 2 layers");
      String p = "base_model.model.model.layers.1.self_attn.";
      assertArrayEquals(new long[] {64, 2}, shapes.get(p + "q_proj.lora_B.weight"));
      assertArrayEquals(new long[] {2, 64}, shapes.get(p + "o_proj.lora_A.weight"));
      assertArrayEquals(new long[] {32, 2}, shapes.get(p + "k_proj.lora_B.weight"));
      assertTrue(shapes.keySet().stream().noneMatch(n -> n.contains("norm")), shapes.keySet().toString());
    }
  }

  /** An adapter written by hand in PEFT's layout (not by this library) loads onto its base. */
  @Test
  void aHandWrittenPeftAdapterLoads() throws IOException {
    ModelConfig c = TinyCheckpoints.gpt2();
    Path dir = TinyCheckpoints.write(tmp.resolve("peft"), c);
    int r = 2;
    long d = c.nEmbd();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (int i = 0; i < c.nLayer(); i++) {
      shapes.put("base_model.model.transformer.h." + i + ".attn.c_attn.lora_A.weight", new long[] {r, d});
      shapes.put("base_model.model.transformer.h." + i + ".attn.c_attn.lora_B.weight", new long[] {3 * d, r});
    }
    Map<String, float[]> values = new LinkedHashMap<>();
    java.util.Random rnd = new java.util.Random(9);
    shapes.forEach((name, shape) -> {
      float[] v = new float[(int) (shape[0] * shape[1])];
      for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian() * 0.2f;
      values.put(name, v);
    });
    Files.write(dir.resolve("adapter_model.safetensors"), safetensors(shapes, values));
    Files.writeString(dir.resolve("adapter_config.json"), """
        {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "gpt2", "r": 2,
         "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": ["c_attn"], "bias": "none",
         "fan_in_fan_out": true, "use_rslora": false, "inference_mode": true, "modules_to_save": null}
        """);
    float[] base;
    try (Model plain = Model.create(c, "cpu")) {
      Checkpoint.open(dir).loadWeights(plain, LoadOptions.strict());
      base = logprobs(plain);
    }
    try (Model m = Checkpoint.open(dir).loadModel("cpu", x -> x, LoadOptions.strict()).model()) {
      LoraOptions lora = m.lora().orElseThrow();
      assertEquals(8.0, lora.scale());
      for (var e : values.entrySet()) assertArrayEquals(e.getValue(), m.readFloats(e.getKey(), e.getValue().length));
      float[] adapted = logprobs(m);
      assertFalse(java.util.Arrays.equals(base, adapted));
      m.setAdaptersEnabled(false);
      assertArrayEquals(base, logprobs(m));
    }
  }

  /** safetensors: u64 little-endian header size, the JSON header, then the F32 data. */
  private static byte[] safetensors(Map<String, long[]> shapes, Map<String, float[]> values) {
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    Iterator<String> names = shapes.keySet().iterator();
    while (names.hasNext()) {
      String name = names.next();
      long[] s = shapes.get(name);
      long bytes = 4L * values.get(name).length;
      header.append('"').append(name).append("\":{\"dtype\":\"F32\",\"shape\":[").append(s[0]).append(',').append(s[1])
          .append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
      offset += bytes;
      if (names.hasNext()) header.append(',');
    }
    header.append('}');
    byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(h.length).put(h);
    for (float[] v : values.values()) for (float f : v) buf.putFloat(f);
    return buf.array();
  }
}
