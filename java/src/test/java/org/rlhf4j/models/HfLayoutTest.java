package org.rlhf4j.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.SafetensorsFile;
import org.rlhf4j.checkpoint.TensorEntry;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.models.LlamaReference.Rope;
import org.rlhf4j.testing.HfTensorNames;

/**
 * What a saved checkpoint looks like to Hugging Face tools: config.json's keys and
 * model.safetensors' tensor names and shapes, checked against lists written out here; and
 * Hugging Face directories loaded then saved give back the very same tensors.
 */
class HfLayoutTest {
  @TempDir Path tmp;

  /** GPT2Config's keys rlhf4j writes, then its own extras (ignored by transformers). */
  private static final List<String> GPT2_KEYS = List.of("architectures", "model_type", "vocab_size", "n_positions",
      "n_ctx", "n_embd", "n_layer", "n_head", "n_inner", "activation_function", "resid_pdrop", "embd_pdrop",
      "attn_pdrop", "layer_norm_epsilon", "initializer_range", "tie_word_embeddings", "bos_token_id", "eos_token_id",
      "pad_token_id", "torch_dtype", "rlhf4j");

  /** LlamaConfig's keys rlhf4j writes for model_type llama. */
  private static final List<String> LLAMA_KEYS = List.of("architectures", "model_type", "vocab_size", "hidden_size",
      "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
      "max_position_embeddings", "hidden_act", "rms_norm_eps", "rope_theta", "rope_scaling", "tie_word_embeddings",
      "attention_bias", "mlp_bias", "attention_dropout", "initializer_range", "bos_token_id", "eos_token_id",
      "pad_token_id", "torch_dtype", "rlhf4j");

  /** LlamaForCausalLM's state dict with an untied head. */
  private static final List<String> LLAMA_TENSORS = List.of(
      "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
      "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
      "model.layers.0.post_attention_layernorm.weight",
      "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
      "model.layers.1.input_layernorm.weight",
      "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
      "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
      "model.layers.1.post_attention_layernorm.weight",
      "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
      "model.norm.weight", "lm_head.weight");

  /** Qwen3Config's keys rlhf4j writes for model_type qwen3. */
  private static final List<String> QWEN3_KEYS = List.of("architectures", "model_type", "vocab_size", "hidden_size",
      "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
      "max_position_embeddings", "hidden_act", "rms_norm_eps", "rope_theta", "rope_scaling", "tie_word_embeddings",
      "attention_bias", "use_sliding_window", "attention_dropout", "initializer_range", "bos_token_id",
      "eos_token_id", "pad_token_id", "torch_dtype", "rlhf4j");

  /** Qwen3ForCausalLM's state dict with a tied head (as Qwen3-0.6B saves it). */
  private static final List<String> QWEN3_TENSORS = List.of(
      "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
      "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
      "model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.k_norm.weight",
      "model.layers.0.post_attention_layernorm.weight",
      "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
      "model.layers.1.input_layernorm.weight",
      "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
      "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
      "model.layers.1.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight",
      "model.layers.1.post_attention_layernorm.weight",
      "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
      "model.norm.weight");

  private static final ModelConfig GPT2 = ModelConfig.gpt2(48, 16, 16, 2, 4).withSeed(1);
  /** Llama with 4 query heads sharing 2 kv heads, head size 8. */
  private static final ModelConfig LLAMA = ModelConfig.llama(48, 16, 32, 2, 4, 2, 40).withSeed(2);

  private static JsonNode json(Path file) throws IOException {
    return new ObjectMapper().readTree(file.toFile());
  }

  /** The keys of a JSON object (their order means nothing to transformers). */
  private static Set<String> keys(JsonNode object) {
    Set<String> keys = new TreeSet<>();
    object.fieldNames().forEachRemaining(keys::add);
    return keys;
  }

  /** Tensor name to shape, in file order. */
  private static Map<String, List<Long>> shapes(Path file) {
    Map<String, List<Long>> out = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      for (TensorEntry e : f.tensors()) {
        out.put(e.name(), Arrays.stream(e.info().shape()).boxed().toList());
      }
      assertEquals("pt", f.metadata().get("format"), "transformers loads only format=pt");
    }
    return out;
  }

  private Path save(ModelConfig config, String name) {
    Path dir = tmp.resolve(name);
    try (Model m = Model.create(config, "cpu")) {
      new CheckpointWriter().model(m, HfConfig.of(m.config()).withTokenIds(0, List.of(0), 0)).writeTo(dir, false);
    }
    return dir;
  }

  @Test
  void gpt2IsSavedAsGpt2LmHeadModel() throws IOException {
    Path dir = save(GPT2, "gpt2");
    JsonNode config = json(dir.resolve("config.json"));
    assertEquals(new TreeSet<>(GPT2_KEYS), keys(config));
    assertEquals("GPT2LMHeadModel", config.get("architectures").get(0).asText());
    assertEquals("gpt2", config.get("model_type").asText());
    assertEquals("gelu_new", config.get("activation_function").asText());
    assertTrue(config.get("n_inner").isNull(), "n_inner null means 4 * n_embd");
    assertEquals("float32", config.get("torch_dtype").asText());
    assertEquals(false, config.get("rlhf4j").get("value_head").asBoolean());
    Map<String, List<Long>> shapes = shapes(dir.resolve("model.safetensors"));
    assertEquals(HfTensorNames.GPT2_TWO_LAYERS, List.copyOf(shapes.keySet()));
    // Conv1D keeps [in, out].
    assertEquals(List.of(16L, 48L), shapes.get("transformer.h.0.attn.c_attn.weight"));
    assertEquals(List.of(16L, 64L), shapes.get("transformer.h.1.mlp.c_fc.weight"));
    assertEquals(List.of(64L, 16L), shapes.get("transformer.h.1.mlp.c_proj.weight"));
  }

  @Test
  void gpt2WithValueHeadAddsTrlsHead() throws IOException {
    Path dir = save(GPT2.withValueHead(true), "policy");
    JsonNode config = json(dir.resolve("config.json"));
    assertEquals(new TreeSet<>(GPT2_KEYS), keys(config));
    assertEquals("GPT2LMHeadModel", config.get("architectures").get(0).asText());
    assertEquals(true, config.get("rlhf4j").get("value_head").asBoolean());
    Map<String, List<Long>> shapes = shapes(dir.resolve("model.safetensors"));
    assertEquals(HfTensorNames.GPT2_TWO_LAYERS_WITH_VALUE_HEAD, List.copyOf(shapes.keySet()));
    assertEquals(List.of(1L, 16L), shapes.get("v_head.summary.weight"));
    assertEquals(List.of(1L), shapes.get("v_head.summary.bias"));
  }

  @Test
  void llamaIsSavedAsLlamaForCausalLm() throws IOException {
    Path dir = save(LLAMA, "llama");
    JsonNode config = json(dir.resolve("config.json"));
    assertEquals(new TreeSet<>(LLAMA_KEYS), keys(config));
    assertEquals("LlamaForCausalLM", config.get("architectures").get(0).asText());
    assertEquals("llama", config.get("model_type").asText());
    assertEquals(2, config.get("num_key_value_heads").asInt());
    assertEquals(8, config.get("head_dim").asInt());
    assertTrue(config.get("rope_scaling").isNull());
    assertEquals(false, config.get("tie_word_embeddings").asBoolean());
    Map<String, List<Long>> shapes = shapes(dir.resolve("model.safetensors"));
    assertEquals(LLAMA_TENSORS, List.copyOf(shapes.keySet()));
    // nn.Linear keeps [out, in]; k and v project to 2 kv heads of 8.
    assertEquals(List.of(32L, 32L), shapes.get("model.layers.0.self_attn.q_proj.weight"));
    assertEquals(List.of(16L, 32L), shapes.get("model.layers.0.self_attn.k_proj.weight"));
    assertEquals(List.of(40L, 32L), shapes.get("model.layers.0.mlp.gate_proj.weight"));
    assertEquals(List.of(32L, 40L), shapes.get("model.layers.0.mlp.down_proj.weight"));
    assertEquals(List.of(48L, 32L), shapes.get("lm_head.weight"));
  }

  @Test
  void qwen3IsSavedAsQwen3ForCausalLm() throws IOException {
    // 4 query heads of 16 over a width of 32: q_proj is [64, 32], o_proj [32, 64].
    Path dir = save(ModelConfig.qwen3(48, 16, 32, 2, 4, 2, 16, 40).withSeed(3), "qwen3");
    JsonNode config = json(dir.resolve("config.json"));
    assertEquals(new TreeSet<>(QWEN3_KEYS), keys(config));
    assertEquals("Qwen3ForCausalLM", config.get("architectures").get(0).asText());
    assertEquals("qwen3", config.get("model_type").asText());
    assertEquals(16, config.get("head_dim").asInt());
    assertEquals(true, config.get("tie_word_embeddings").asBoolean());
    Map<String, List<Long>> shapes = shapes(dir.resolve("model.safetensors"));
    assertEquals(QWEN3_TENSORS, List.copyOf(shapes.keySet()));
    assertEquals(List.of(64L, 32L), shapes.get("model.layers.0.self_attn.q_proj.weight"));
    assertEquals(List.of(32L, 32L), shapes.get("model.layers.0.self_attn.k_proj.weight"));
    assertEquals(List.of(32L, 64L), shapes.get("model.layers.0.self_attn.o_proj.weight"));
    assertEquals(List.of(16L), shapes.get("model.layers.1.self_attn.q_norm.weight"));
    assertEquals(List.of(16L), shapes.get("model.layers.1.self_attn.k_norm.weight"));
  }

  @Test
  void llamaRewardModelIsSavedAsASequenceClassifier() throws IOException {
    Path dir = save(LLAMA.withRewardHead(true), "rm");
    JsonNode config = json(dir.resolve("config.json"));
    assertEquals("LlamaForSequenceClassification", config.get("architectures").get(0).asText());
    assertEquals(Set.of("0"), keys(config.get("id2label")), "one label: a scalar score");
    List<String> names = List.copyOf(shapes(dir.resolve("model.safetensors")).keySet());
    assertEquals("score.weight", names.getLast());
    assertEquals(LLAMA_TENSORS, names.subList(0, names.size() - 1));
  }

  /** Every tensor of before's files (sharded or not) is in after's, with the same dtype, shape and bytes. */
  private static void assertSameTensors(List<Path> before, Path after) {
    Set<String> seen = new TreeSet<>();
    try (SafetensorsFile saved = SafetensorsFile.open(after)) {
      for (Path file : before) {
        try (SafetensorsFile original = SafetensorsFile.open(file)) {
          for (TensorEntry e : original.tensors()) {
            TensorEntry s = saved.find(e.name()).orElseThrow(() -> new AssertionError("not saved: " + e.name()));
            assertEquals(e.info(), s.info(), e.name());
            MemorySegment a = original.data(e), b = saved.data(s);
            assertEquals(-1, a.mismatch(b), () -> e.name() + " differs");
            seen.add(e.name());
          }
        }
      }
      assertEquals(seen.size(), saved.tensors().size(), "nothing else is saved");
    }
  }

  /** Loads dir as its config says, saves it as the trainers do, and returns the saved directory. */
  private Path loadAndSave(Path dir, String name) {
    Checkpoint checkpoint = Checkpoint.open(dir);
    Path out = tmp.resolve(name);
    try (Model m = checkpoint.loadModel("cpu", c -> c, LoadOptions.strict()).model()) {
      new CheckpointWriter().model(m, checkpoint.config().withModel(m.config())).writeTo(out, false);
    }
    assertEquals(checkpoint.config(), Checkpoint.open(out).config(), "config.json says the same");
    return out;
  }

  @Test
  void aShardedGpt2RoundTripsBitwise() {
    Gpt2Reference.Spec spec = new Gpt2Reference.Spec(48, 16, 16, 2, 4, 64, 1e-5);
    HfTensors w = Gpt2Reference.randomWeights(spec, 11);
    Path dir = tmp.resolve("sharded");
    HfTensors.writeJson(dir.resolve("config.json"), spec.config("float32"));
    List<String> names = w.names();
    w.writeSharded(dir, DType.F32, List.of(names.subList(0, 10), names.subList(10, names.size())));
    Path saved = loadAndSave(dir, "saved-gpt2");
    assertSameTensors(List.of(dir.resolve("model-00001-of-00002.safetensors"),
        dir.resolve("model-00002-of-00002.safetensors")), saved.resolve("model.safetensors"));
  }

  @Test
  void aBf16LlamaRoundTripsBitwise() {
    Rope llama3 = new Rope("llama3", 8, 1, 4, 512);
    LlamaReference.Spec spec = new LlamaReference.Spec("llama", 48, 16, 32, 2, 4, 2, 48, 1e-5, 5e5, llama3, false);
    HfTensors w = LlamaReference.randomWeights(spec, 12).roundToBf16();
    Path dir = tmp.resolve("bf16");
    HfTensors.writeJson(dir.resolve("config.json"), spec.config("bfloat16"));
    w.writeSingle(dir, DType.BF16);
    Path saved = loadAndSave(dir, "saved-llama");
    assertSameTensors(List.of(dir.resolve("model.safetensors")), saved.resolve("model.safetensors"));
    assertEquals(DType.BF16, Checkpoint.open(saved).config().model().dtype());
  }

  @Test
  void aQwen2WithBiasesRoundTripsBitwise() throws IOException {
    LlamaReference.Spec spec = new LlamaReference.Spec("qwen2", 48, 16, 32, 2, 4, 1, 64, 1e-6, 1e6, Rope.NONE, true);
    HfTensors w = LlamaReference.randomWeights(spec, 13);
    Path dir = tmp.resolve("qwen2");
    HfTensors.writeJson(dir.resolve("config.json"), spec.config("float32"));
    w.writeSingle(dir, DType.F32);
    Path saved = loadAndSave(dir, "saved-qwen2");
    assertSameTensors(List.of(dir.resolve("model.safetensors")), saved.resolve("model.safetensors"));
    JsonNode config = json(saved.resolve("config.json"));
    assertEquals("Qwen2ForCausalLM", config.get("architectures").get(0).asText());
    assertEquals("qwen2", config.get("model_type").asText());
    assertEquals(false, config.get("use_sliding_window").asBoolean());
  }

  @Test
  void aBf16Qwen3RoundTripsBitwise() throws IOException {
    LlamaReference.Spec spec =
        new LlamaReference.Spec("qwen3", 48, 16, 24, 2, 4, 2, 40, 1e-6, 1e6, Rope.NONE, true, 10);
    HfTensors w = LlamaReference.randomWeights(spec, 14).roundToBf16();
    Path dir = tmp.resolve("qwen3-in");
    HfTensors.writeJson(dir.resolve("config.json"), spec.config("bfloat16"));
    w.writeSingle(dir, DType.BF16);
    Path saved = loadAndSave(dir, "saved-qwen3");
    assertSameTensors(List.of(dir.resolve("model.safetensors")), saved.resolve("model.safetensors"));
    JsonNode config = json(saved.resolve("config.json"));
    assertEquals("Qwen3ForCausalLM", config.get("architectures").get(0).asText());
    assertEquals(10, config.get("head_dim").asInt());
  }
}
