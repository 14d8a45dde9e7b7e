package org.rlhf4j.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.ModelConfig.RopeScaling;

/**
 * The Llama family's config.json keys (transformers' LlamaConfig, Qwen2Config, Qwen3Config,
 * MistralConfig) to and from a ModelConfig with the Llama architecture. Qwen3 is the family
 * with per-head q/k RMSNorm (q_norm, k_norm) and its own head_dim.
 */
final class LlamaJson {
  private LlamaJson() {}

  static ModelConfig read(JsonFields f, String type, DType dtype) {
    long vocab = f.requirePositive("vocab_size");
    long hidden = f.requirePositive("hidden_size");
    long inner = f.requirePositive("intermediate_size");
    long layers = f.requirePositive("num_hidden_layers");
    long heads = f.requirePositive("num_attention_heads");
    long kvHeads = f.has("num_key_value_heads") ? f.requirePositive("num_key_value_heads") : heads;
    long positions = f.requirePositive("max_position_embeddings");
    // As transformers: Qwen3Config defaults head_dim to 128, the others derive it (and then
    // hidden_size must split evenly into the heads).
    long headDim = f.has("head_dim") ? f.requirePositive("head_dim")
        : type.equals("qwen3") ? 128 : 0;
    if (headDim == 0 && hidden % heads != 0) {
      throw f.unsupported("num_attention_heads", heads + " does not divide hidden_size " + hidden
          + " and no head_dim is given");
    }
    String act = f.optString("hidden_act", "silu");
    if (!act.equals("silu")) throw f.unsupported("hidden_act", "'" + act + "' (rlhf4j's Llama uses silu)");
    if (f.optBoolean("mlp_bias", false)) throw f.unsupported("mlp_bias", "true (rlhf4j's MLP has no biases)");
    boolean bias = switch (type) {
      case "qwen2" -> true;
      case "llama", "qwen3" -> {
        if (f.optBoolean("attention_bias", false)) {
          throw f.unsupported("attention_bias", "true (" + type + " then also biases o_proj, which rlhf4j does not)");
        }
        yield false;
      }
      default -> false;
    };
    positions = Math.min(positions, slidingWindow(f, type, positions));
    ModelConfig base = ModelConfig.llama(vocab, positions, hidden, layers, heads, kvHeads, inner);
    RopeScaling scaling = RopeScaling.NONE;
    double factor = base.ropeFactor();
    double low = base.ropeLowFreqFactor();
    double high = base.ropeHighFreqFactor();
    long original = base.ropeOriginalMaxPositions();
    // transformers 5 renamed rope_scaling to rope_parameters, which also holds rope_theta.
    JsonFields rope = f.has("rope_scaling") ? f.object("rope_scaling") : f.object("rope_parameters");
    double theta = f.optDouble("rope_theta", rope == null ? 10000.0 : rope.optDouble("rope_theta", 10000.0));
    if (rope != null) {
      String key = rope.has("rope_type") ? "rope_type" : "type";
      String kind = rope.optString(key, "default");
      switch (kind) {
        case "default" -> { }
        case "linear" -> {
          scaling = RopeScaling.LINEAR;
          factor = rope.requireDouble("factor");
        }
        case "llama3" -> {
          scaling = RopeScaling.LLAMA3;
          factor = rope.requireDouble("factor");
          low = rope.requireDouble("low_freq_factor");
          high = rope.requireDouble("high_freq_factor");
          original = rope.requirePositive("original_max_position_embeddings");
        }
        default -> throw rope.unsupported(key, "'" + kind + "' (supported: default, linear, llama3)");
      }
    }
    return new ModelConfig(base.arch(), dtype, vocab, positions, hidden, layers, heads, kvHeads, inner,
        f.optDouble("rms_norm_eps", 1e-6), theta, scaling, factor, low, high, original,
        f.optBoolean("tie_word_embeddings", false), bias, false, false, f.optDouble("attention_dropout", 0.0),
        f.optDouble("initializer_range", 0.02), 0, headDim, type.equals("qwen3"));
  }

  /**
   * The attention window, or positions when attention is global. rlhf4j attends globally, which
   * equals sliding-window attention on sequences no longer than the window: the context is
   * capped there instead of rejecting such models (Mistral 7B v0.1).
   */
  private static long slidingWindow(JsonFields f, String type, long positions) {
    boolean used = switch (type) {
      case "mistral" -> f.has("sliding_window");
      case "qwen2", "qwen3" -> f.optBoolean("use_sliding_window", false);
      default -> false;
    };
    return used ? f.requirePositive("sliding_window") : positions;
  }

  static void write(ModelConfig m, String type, ObjectNode out) {
    out.put("vocab_size", m.vocabSize());
    out.put("hidden_size", m.nEmbd());
    out.put("intermediate_size", m.nInner());
    out.put("num_hidden_layers", m.nLayer());
    out.put("num_attention_heads", m.nHead());
    out.put("num_key_value_heads", m.nKvHead());
    out.put("head_dim", m.headDim());
    out.put("max_position_embeddings", m.nPositions());
    out.put("hidden_act", "silu");
    out.put("rms_norm_eps", m.normEps());
    out.put("rope_theta", m.ropeTheta());
    switch (m.ropeScaling()) {
      case NONE -> out.putNull("rope_scaling");
      case LINEAR -> out.putObject("rope_scaling").put("rope_type", "linear").put("factor", m.ropeFactor());
      case LLAMA3 -> out.putObject("rope_scaling")
          .put("rope_type", "llama3")
          .put("factor", m.ropeFactor())
          .put("low_freq_factor", m.ropeLowFreqFactor())
          .put("high_freq_factor", m.ropeHighFreqFactor())
          .put("original_max_position_embeddings", m.ropeOriginalMaxPositions());
    }
    out.put("tie_word_embeddings", m.tieWordEmbeddings());
    switch (type) {
      case "llama" -> out.put("attention_bias", false).put("mlp_bias", false);
      case "qwen2" -> out.put("use_sliding_window", false);
      case "qwen3" -> out.put("attention_bias", false).put("use_sliding_window", false);
      default -> out.putNull("sliding_window");
    }
    out.put("attention_dropout", m.dropout());
    out.put("initializer_range", m.initializerRange());
  }
}
