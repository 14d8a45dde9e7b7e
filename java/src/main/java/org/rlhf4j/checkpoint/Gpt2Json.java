package org.rlhf4j.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.ModelConfig;

/** GPT-2's config.json keys (transformers' GPT2Config) to and from a ModelConfig. */
final class Gpt2Json {
  /** Both name GELU with the tanh approximation, which is what rlhf4j's GPT-2 computes. */
  private static final Set<String> GELU_TANH = Set.of("gelu_new", "gelu_pytorch_tanh");

  private Gpt2Json() {}

  static ModelConfig read(JsonFields f, DType dtype) {
    long vocab = f.requirePositive("vocab_size");
    long positions = f.has("n_positions") || !f.has("n_ctx") ? f.requirePositive("n_positions")
        : f.requirePositive("n_ctx");
    long embd = f.requirePositive("n_embd");
    long layers = f.requirePositive("n_layer");
    long heads = f.requirePositive("n_head");
    long inner = f.has("n_inner") ? f.requirePositive("n_inner") : 4 * embd;
    String act = f.optString("activation_function", "gelu_new");
    if (!GELU_TANH.contains(act)) throw f.unsupported("activation_function", "'" + act + "' (rlhf4j's GPT-2 uses gelu_new)");
    // transformers' defaults when the keys are absent.
    double resid = f.optDouble("resid_pdrop", 0.1);
    double embdDrop = f.optDouble("embd_pdrop", 0.1);
    double attn = f.optDouble("attn_pdrop", 0.1);
    if (resid != embdDrop || resid != attn) {
      throw f.unsupported("resid_pdrop", "resid_pdrop " + resid + ", embd_pdrop " + embdDrop + " and attn_pdrop " + attn
          + " differ (rlhf4j has one dropout rate)");
    }
    if (!f.optBoolean("tie_word_embeddings", true)) throw f.unsupported("tie_word_embeddings", "false (GPT-2's head is tied)");
    if (!f.optBoolean("scale_attn_weights", true)) throw f.unsupported("scale_attn_weights", "false");
    if (f.optBoolean("scale_attn_by_inverse_layer_idx", false)) throw f.unsupported("scale_attn_by_inverse_layer_idx", "true");
    if (f.optBoolean("add_cross_attention", false)) throw f.unsupported("add_cross_attention", "true");
    ModelConfig base = ModelConfig.gpt2(vocab, positions, embd, layers, heads);
    return new ModelConfig(base.arch(), dtype, vocab, positions, embd, layers, heads, heads, inner,
        f.optDouble("layer_norm_epsilon", 1e-5), base.ropeTheta(), base.ropeScaling(), base.ropeFactor(),
        base.ropeLowFreqFactor(), base.ropeHighFreqFactor(), base.ropeOriginalMaxPositions(), true, false, false, false,
        resid, f.optDouble("initializer_range", 0.02), 0, 0, false);
  }

  static void write(ModelConfig m, ObjectNode out) {
    out.put("vocab_size", m.vocabSize());
    out.put("n_positions", m.nPositions());
    out.put("n_ctx", m.nPositions());
    out.put("n_embd", m.nEmbd());
    out.put("n_layer", m.nLayer());
    out.put("n_head", m.nHead());
    if (m.nInner() == 4 * m.nEmbd()) out.putNull("n_inner");
    else out.put("n_inner", m.nInner());
    out.put("activation_function", "gelu_new");
    out.put("resid_pdrop", m.dropout());
    out.put("embd_pdrop", m.dropout());
    out.put("attn_pdrop", m.dropout());
    out.put("layer_norm_epsilon", m.normEps());
    out.put("initializer_range", m.initializerRange());
    out.put("tie_word_embeddings", true);
  }
}
