package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.ModelConfig.RopeScaling;

class HfConfigTest {
  @TempDir Path tmp;

  /** The config.json of the original gpt2 on the Hugging Face hub (GPT2LMHeadModel). */
  private static final String GPT2_HUB = """
      {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": 1024,
        "n_embd": 768,
        "n_head": 12,
        "n_layer": 12,
        "n_positions": 1024,
        "resid_pdrop": 0.1,
        "summary_activation": null,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": true,
        "summary_type": "cls_index",
        "summary_use_proj": true,
        "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
        "vocab_size": 50257
      }
      """;

  private Path file(String name, String json) throws IOException {
    return Files.writeString(tmp.resolve(name), json);
  }

  private static ModelConfig llama3Shape() {
    ModelConfig b = ModelConfig.llama(128, 64, 32, 2, 4, 2, 96);
    return new ModelConfig(b.arch(), DType.BF16, b.vocabSize(), b.nPositions(), b.nEmbd(), b.nLayer(), b.nHead(),
        b.nKvHead(), b.nInner(), 1e-5, 500000.0, RopeScaling.LLAMA3, 8.0, 1.0, 4.0, 8192, true, false, true, false, 0.0,
        0.02, 0, 0, false);
  }

  private CheckpointException rejected(String json) throws IOException {
    Path f = file("config.json", json);
    CheckpointException e = assertThrows(CheckpointException.class, () -> HfConfig.read(f));
    assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    return e;
  }

  @Test
  void readsTheHubGpt2Config() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", GPT2_HUB));
    ModelConfig expected = ModelConfig.gpt2(50257, 1024, 768, 12, 12).withDropout(0.1);
    assertEquals(expected, c.model());
    assertEquals(50256, c.bosTokenId());
    assertEquals(List.of(50256), c.eosTokenIds());
    assertEquals(null, c.padTokenId());
  }

  @Test
  void writesGpt2WithHuggingFaceKeysAndRoundTrips() {
    ModelConfig model = ModelConfig.gpt2(64, 32, 16, 2, 2).withValueHead(true);
    HfConfig config = HfConfig.of(model).withTokenIds(0, List.of(1), 2);
    ObjectNode json = config.toJson();
    assertEquals("[\"GPT2LMHeadModel\"]", json.get("architectures").toString());
    assertEquals("gpt2", json.get("model_type").asText());
    assertEquals(64, json.get("vocab_size").asInt());
    assertEquals(32, json.get("n_positions").asInt());
    assertEquals(32, json.get("n_ctx").asInt());
    assertEquals(16, json.get("n_embd").asInt());
    assertEquals(2, json.get("n_layer").asInt());
    assertEquals(2, json.get("n_head").asInt());
    assertTrue(json.get("n_inner").isNull());
    assertEquals("gelu_new", json.get("activation_function").asText());
    for (String k : List.of("resid_pdrop", "embd_pdrop", "attn_pdrop")) assertEquals(0.0, json.get(k).asDouble(), k);
    assertEquals(1e-5, json.get("layer_norm_epsilon").asDouble());
    assertEquals(0.02, json.get("initializer_range").asDouble());
    assertEquals(0, json.get("bos_token_id").asInt());
    assertEquals(1, json.get("eos_token_id").asInt());
    assertEquals(2, json.get("pad_token_id").asInt());
    assertTrue(json.get("tie_word_embeddings").asBoolean());
    assertEquals("float32", json.get("torch_dtype").asText());
    assertTrue(json.get("rlhf4j").get("value_head").asBoolean());
    assertFalse(json.get("rlhf4j").get("reward_head").asBoolean());
    assertEquals(config, HfConfig.fromJson(json, "test"));
  }

  @Test
  void aRewardModelIsASequenceClassifierWithOneLabel() throws IOException {
    ModelConfig model = ModelConfig.gpt2(64, 32, 16, 2, 2).withRewardHead(true);
    ObjectNode json = HfConfig.of(model).toJson();
    assertEquals("[\"GPT2ForSequenceClassification\"]", json.get("architectures").toString());
    assertEquals(1, json.get("id2label").size());
    json.remove("rlhf4j");
    assertTrue(HfConfig.fromJson(json, "test").model().rewardHead(), "the head follows from architectures");

    String trl = GPT2_HUB.replace("GPT2LMHeadModel", "GPT2ForSequenceClassification")
        .replace("\"vocab_size\"", "\"num_labels\": 1, \"vocab_size\"");
    assertTrue(HfConfig.read(file("rm.json", trl)).model().rewardHead());
    String twoLabels = GPT2_HUB.replace("GPT2LMHeadModel", "GPT2ForSequenceClassification");
    assertTrue(rejected(twoLabels).getMessage().contains("unsupported 'num_labels': a sequence classifier with 2 labels"));
  }

  @Test
  void roundTripsALlamaConfigWithLlama3RopeScaling() {
    HfConfig config = HfConfig.of(llama3Shape()).withTokenIds(1, List.of(2, 3, 4), null);
    ObjectNode json = config.toJson();
    assertEquals("[\"LlamaForCausalLM\"]", json.get("architectures").toString());
    assertEquals("llama", json.get("model_type").asText());
    assertEquals(32, json.get("hidden_size").asInt());
    assertEquals(96, json.get("intermediate_size").asInt());
    assertEquals(2, json.get("num_hidden_layers").asInt());
    assertEquals(4, json.get("num_attention_heads").asInt());
    assertEquals(2, json.get("num_key_value_heads").asInt());
    assertEquals(64, json.get("max_position_embeddings").asInt());
    assertEquals(1e-5, json.get("rms_norm_eps").asDouble());
    assertEquals(500000.0, json.get("rope_theta").asDouble());
    JsonNode rope = json.get("rope_scaling");
    assertEquals("llama3", rope.get("rope_type").asText());
    assertEquals(8.0, rope.get("factor").asDouble());
    assertEquals(8192, rope.get("original_max_position_embeddings").asInt());
    assertEquals("[2,3,4]", json.get("eos_token_id").toString());
    assertEquals("bfloat16", json.get("torch_dtype").asText());
    assertEquals(config, HfConfig.fromJson(json, "test"));
  }

  @Test
  void qwen2AlwaysHasQkvBiasesAndLinearScalingReads() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", """
        {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 100, "hidden_size": 16,
         "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
         "max_position_embeddings": 128, "sliding_window": 64, "use_sliding_window": false,
         "rope_theta": 1000000.0, "rope_scaling": {"type": "linear", "factor": 2.0}, "tie_word_embeddings": true,
         "torch_dtype": "bfloat16", "eos_token_id": 7}
        """));
    assertTrue(c.model().attentionBias());
    assertTrue(c.model().tieWordEmbeddings());
    assertEquals(128, c.model().nPositions(), "sliding window off");
    assertEquals(RopeScaling.LINEAR, c.model().ropeScaling());
    assertEquals(2.0, c.model().ropeFactor());
    assertEquals("qwen2", HfConfig.of(c.model()).modelType());
    assertEquals(c, HfConfig.fromJson(c.toJson(), "test"));
  }

  /** Qwen3-0.6B's config.json as published (transformers 4.51). */
  @Test
  void readsTheHubQwen3ConfigWithItsOwnHeadSizeAndQkNorms() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", """
        {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
         "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
         "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
         "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
         "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
         "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
         "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true,
         "use_sliding_window": false, "vocab_size": 151936}
        """));
    ModelConfig m = c.model();
    assertEquals("qwen3", c.modelType());
    assertEquals(128, m.headDim(), "16 heads of 128 over hidden_size 1024");
    assertTrue(m.qkNorm());
    assertFalse(m.attentionBias());
    assertTrue(m.tieWordEmbeddings());
    assertEquals(40960, m.nPositions());
    assertEquals(1e6, m.ropeTheta());
    assertEquals(DType.BF16, m.dtype());
    // The model card: 0.6B parameters, 0.44B of them outside the (tied) embedding of 151936 x 1024.
    assertEquals(596_049_920L, m.parameterCount());
    ObjectNode json = c.toJson();
    assertEquals("[\"Qwen3ForCausalLM\"]", json.get("architectures").toString());
    assertEquals(128, json.get("head_dim").asInt());
    assertFalse(json.get("attention_bias").asBoolean());
    assertEquals(c, HfConfig.fromJson(json, "test"));
    // Qwen3Config's head_dim defaults to 128, not hidden_size / num_attention_heads.
    String noHeadDim = """
        {"model_type": "qwen3", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 32,
         "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64 EXTRA}
        """;
    assertEquals(128, HfConfig.read(file("qwen3.json", noHeadDim.replace("EXTRA", ""))).model().headDim());
    assertTrue(rejected(noHeadDim.replace("EXTRA", ", \"attention_bias\": true")).getMessage()
        .contains("unsupported 'attention_bias'"));
  }

  /** transformers' LlamaAttention reads head_dim when present (Mistral NeMo: 32 heads of 128 over 5120). */
  @Test
  void theLlamaFamilyTakesAnExplicitHeadDimToo() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", """
        {"model_type": "mistral", "vocab_size": 100, "hidden_size": 40, "intermediate_size": 32, "head_dim": 16,
         "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64}
        """));
    assertEquals(16, c.model().headDim());
    assertFalse(c.model().qkNorm());
    assertEquals(16, c.toJson().get("head_dim").asInt());
    assertEquals(c, HfConfig.fromJson(c.toJson(), "test"));
  }

  @Test
  void mistralSlidingWindowCapsTheContext() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", """
        {"model_type": "mistral", "vocab_size": 100, "hidden_size": 16, "intermediate_size": 32,
         "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
         "max_position_embeddings": 32768, "sliding_window": 4096}
        """));
    assertEquals(4096, c.model().nPositions());
    assertEquals("mistral", c.modelType());
  }

  @Test
  void readsTransformers5RopeParameters() throws IOException {
    HfConfig c = HfConfig.read(file("config.json", """
        {"model_type": "llama", "vocab_size": 100, "hidden_size": 16, "intermediate_size": 32,
         "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64, "dtype": "float16",
         "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000.0}}
        """));
    assertEquals(RopeScaling.LINEAR, c.model().ropeScaling());
    assertEquals(500000.0, c.model().ropeTheta());
    assertEquals(DType.F16, c.model().dtype());
  }

  @Test
  void rejectsUnsupportedOrMissingKeysNamingTheFileAndKey() throws IOException {
    String llama = """
        {"model_type": "llama", "vocab_size": 100, "hidden_size": 16, "intermediate_size": 32,
         "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64 EXTRA}
        """;
    assertTrue(rejected(llama.replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3").replace("EXTRA", ""))
        .getMessage().contains("unsupported 'num_attention_heads': 3 does not divide hidden_size 16"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"head_dim\": 0")).getMessage().contains("'head_dim'"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"attention_bias\": true")).getMessage()
        .contains("unsupported 'attention_bias'"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"))
        .getMessage().contains("unsupported 'rope_scaling.rope_type': 'yarn'"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 4.0}"))
        .getMessage().contains("missing key 'rope_scaling.low_freq_factor'"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"hidden_act\": \"gelu\"")).getMessage()
        .contains("unsupported 'hidden_act'"));
    assertTrue(rejected(llama.replace("\"hidden_size\": 16,", "").replace("EXTRA", "")).getMessage()
        .contains("missing key 'hidden_size'"));
    assertTrue(rejected(llama.replace("\"hidden_size\": 16", "\"hidden_size\": \"16\"").replace("EXTRA", ""))
        .getMessage().contains("key 'hidden_size' must be an integer, got \"16\""));
    assertTrue(rejected(llama.replace("llama", "bert").replace("EXTRA", "")).getMessage()
        .contains("unsupported 'model_type': 'bert'"));
    assertTrue(rejected(llama.replace("EXTRA", ", \"vocab_size\": 5")).getMessage().contains("Duplicate field 'vocab_size'"));
    assertTrue(rejected(GPT2_HUB.replace("\"n_embd\": 768,", "")).getMessage().contains("missing key 'n_embd'"));
    assertTrue(rejected(GPT2_HUB.replace("gelu_new", "relu")).getMessage().contains("unsupported 'activation_function'"));
    assertTrue(rejected(GPT2_HUB.replace("\"attn_pdrop\": 0.1", "\"attn_pdrop\": 0.0")).getMessage()
        .contains("differ (rlhf4j has one dropout rate)"));
    assertTrue(rejected("{\"model_type\": \"gpt2\"").getMessage().contains("invalid JSON"));
  }

  @Test
  void modelTypeMustFitTheArchitecture() {
    ModelConfig llama = ModelConfig.llama(64, 32, 16, 1, 2, 2, 32);
    assertThrows(IllegalArgumentException.class, () -> new HfConfig(llama, "qwen2", null, List.of(), null));
    assertThrows(IllegalArgumentException.class, () -> new HfConfig(llama, "gpt2", null, List.of(), null));
    assertEquals("mistral", new HfConfig(llama, "mistral", null, List.of(), null).toJson().get("model_type").asText());
    assertThrows(IllegalArgumentException.class, () -> new HfConfig(llama, "qwen3", null, List.of(), null));
    ModelConfig qwen3 = ModelConfig.qwen3(64, 32, 16, 1, 4, 2, 8, 32);
    assertThrows(IllegalArgumentException.class, () -> new HfConfig(qwen3, "llama", null, List.of(), null));
    assertEquals("qwen3", HfConfig.of(qwen3).modelType());
  }
}
