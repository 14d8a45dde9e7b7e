package org.rlhf4j.models;

import static org.rlhf4j.models.RefMath.add;
import static org.rlhf4j.models.RefMath.causalAttention;
import static org.rlhf4j.models.RefMath.heads;
import static org.rlhf4j.models.RefMath.linear;
import static org.rlhf4j.models.RefMath.rmsNorm;
import static org.rlhf4j.models.RefMath.row;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.models.HfTensors.Tensor;

/**
 * The Llama family (Llama, Qwen2, Qwen3, Mistral) as transformers' LlamaForCausalLM and
 * Qwen3ForCausalLM compute it, written independently of the native code: RMSNorm, rotary
 * position embeddings in HF's rotate_half layout (dimension i pairs with i + hd/2) with the
 * config's theta and scaling, grouped-query attention, optional q/k/v biases (Qwen2),
 * Qwen3's RMSNorm of every query and key head (q_norm, k_norm) before the rotation and its
 * head size apart from hidden_size / heads, SwiGLU MLP and an LM head tied or not. Slow and
 * obvious; for tests only.
 */
final class LlamaReference {
  /** rope_scaling of config.json: none, linear (factor) or llama3 (all fields). */
  record Rope(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    static final Rope NONE = new Rope("default", 1, 1, 1, 1);

    static Rope linear(double factor) {
      return new Rope("linear", factor, 1, 1, 1);
    }

    Map<String, Object> json() {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("rope_type", type);
      r.put("factor", factor);
      if (type.equals("llama3")) {
        r.put("low_freq_factor", lowFreqFactor);
        r.put("high_freq_factor", highFreqFactor);
        r.put("original_max_position_embeddings", originalMaxPositions);
      }
      return r;
    }
  }

  /**
   * A Llama-family shape; {@link #config} is its config.json. modelType qwen2 carries q/k/v
   * biases, as Qwen2 does; qwen3 normalises q and k per head. headDim 0 = embd / heads.
   */
  record Spec(String modelType, int vocab, int positions, int embd, int layers, int heads, int kvHeads, int inner,
      double eps, double theta, Rope rope, boolean tied, int headDim) {
    Spec {
      if (headDim == 0) headDim = embd / heads;
    }

    Spec(String modelType, int vocab, int positions, int embd, int layers, int heads, int kvHeads, int inner,
        double eps, double theta, Rope rope, boolean tied) {
      this(modelType, vocab, positions, embd, layers, heads, kvHeads, inner, eps, theta, rope, tied, 0);
    }

    boolean bias() {
      return modelType.equals("qwen2");
    }

    boolean qkNorm() {
      return modelType.equals("qwen3");
    }

    Spec withRope(Rope other) {
      return new Spec(modelType, vocab, positions, embd, layers, heads, kvHeads, inner, eps, theta, other, tied,
          headDim);
    }

    /** config.json as transformers writes it for this model type. */
    Map<String, Object> config(String torchDtype) {
      String cls = switch (modelType) {
        case "qwen2" -> "Qwen2ForCausalLM";
        case "qwen3" -> "Qwen3ForCausalLM";
        case "mistral" -> "MistralForCausalLM";
        default -> "LlamaForCausalLM";
      };
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("architectures", List.of(cls));
      c.put("model_type", modelType);
      c.put("vocab_size", vocab);
      c.put("hidden_size", embd);
      c.put("intermediate_size", inner);
      c.put("num_hidden_layers", layers);
      c.put("num_attention_heads", heads);
      c.put("num_key_value_heads", kvHeads);
      if (qkNorm()) c.put("head_dim", headDim);
      c.put("max_position_embeddings", positions);
      c.put("hidden_act", "silu");
      c.put("rms_norm_eps", eps);
      c.put("rope_theta", theta);
      c.put("rope_scaling", rope.equals(Rope.NONE) ? null : rope.json());
      c.put("tie_word_embeddings", tied);
      c.put("attention_dropout", 0.0);
      switch (modelType) {
        case "qwen2" -> {
          // Qwen2 ships a window it does not use.
          c.put("use_sliding_window", false);
          c.put("sliding_window", 4096);
        }
        case "qwen3" -> {
          c.put("attention_bias", false);
          c.put("use_sliding_window", false);
          c.put("sliding_window", null);
          c.put("max_window_layers", layers);
        }
        case "mistral" -> c.put("sliding_window", null);
        default -> c.put("attention_bias", false);
      }
      c.put("bos_token_id", 1);
      c.put("eos_token_id", 2);
      c.put("torch_dtype", torchDtype);
      return c;
    }
  }

  private LlamaReference() {}

  /** Random weights under LlamaForCausalLM's names and nn.Linear's [out, in] layout. */
  static HfTensors randomWeights(Spec s, long seed) {
    int d = s.embd(), q = s.heads() * s.headDim(), kv = s.kvHeads() * s.headDim();
    HfTensors w = new HfTensors(seed).normal("model.embed_tokens.weight", 0, 0.3, s.vocab(), d);
    for (int l = 0; l < s.layers(); l++) {
      String p = "model.layers." + l + ".";
      w.normal(p + "input_layernorm.weight", 1, 0.2, d);
      w.normal(p + "self_attn.q_proj.weight", 0, 0.3, q, d);
      if (s.bias()) w.normal(p + "self_attn.q_proj.bias", 0, 0.3, q);
      w.normal(p + "self_attn.k_proj.weight", 0, 0.3, kv, d);
      if (s.bias()) w.normal(p + "self_attn.k_proj.bias", 0, 0.3, kv);
      w.normal(p + "self_attn.v_proj.weight", 0, 0.3, kv, d);
      if (s.bias()) w.normal(p + "self_attn.v_proj.bias", 0, 0.3, kv);
      w.normal(p + "self_attn.o_proj.weight", 0, 0.2, d, q);
      if (s.qkNorm()) {
        w.normal(p + "self_attn.q_norm.weight", 1, 0.3, s.headDim());
        w.normal(p + "self_attn.k_norm.weight", 1, 0.3, s.headDim());
      }
      w.normal(p + "post_attention_layernorm.weight", 1, 0.2, d);
      w.normal(p + "mlp.gate_proj.weight", 0, 0.3, s.inner(), d);
      w.normal(p + "mlp.up_proj.weight", 0, 0.3, s.inner(), d);
      w.normal(p + "mlp.down_proj.weight", 0, 0.2, d, s.inner());
    }
    w.normal("model.norm.weight", 1, 0.2, d);
    if (!s.tied()) w.normal("lm_head.weight", 0, 0.3, s.vocab(), d);
    return w;
  }

  /** Logits [T][vocab] of one sequence, positions 0 .. T-1. */
  static double[][] logits(Spec s, HfTensors w, int[] tokens) {
    int len = tokens.length, nh = s.heads(), nkv = s.kvHeads(), hd = s.headDim();
    double[] invFreq = inverseFrequencies(s);
    double[][] x = new double[len][];
    for (int t = 0; t < len; t++) x[t] = row(w.get("model.embed_tokens.weight"), tokens[t]);
    for (int l = 0; l < s.layers(); l++) {
      String p = "model.layers." + l + ".";
      double[][][] q = new double[len][][], k = new double[len][][], v = new double[len][][];
      for (int t = 0; t < len; t++) {
        double[] h = rmsNorm(x[t], w.get(p + "input_layernorm.weight"), s.eps());
        q[t] = heads(linear(h, w.get(p + "self_attn.q_proj.weight"), bias(s, w, p + "self_attn.q_proj.bias")), 0, nh, hd);
        k[t] = heads(linear(h, w.get(p + "self_attn.k_proj.weight"), bias(s, w, p + "self_attn.k_proj.bias")), 0, nkv, hd);
        v[t] = heads(linear(h, w.get(p + "self_attn.v_proj.weight"), bias(s, w, p + "self_attn.v_proj.bias")), 0, nkv, hd);
        if (s.qkNorm()) {  // Qwen3: RMSNorm over each head's hd values, before the rotation
          for (int i = 0; i < nh; i++) q[t][i] = rmsNorm(q[t][i], w.get(p + "self_attn.q_norm.weight"), s.eps());
          for (int i = 0; i < nkv; i++) k[t][i] = rmsNorm(k[t][i], w.get(p + "self_attn.k_norm.weight"), s.eps());
        }
        for (double[] head : q[t]) rotate(head, t, invFreq);
        for (double[] head : k[t]) rotate(head, t, invFreq);
      }
      double[][] y = causalAttention(q, k, v);
      for (int t = 0; t < len; t++) x[t] = add(x[t], linear(y[t], w.get(p + "self_attn.o_proj.weight"), null));
      // SwiGLU: down(silu(gate(h)) * up(h))
      for (int t = 0; t < len; t++) {
        double[] h = rmsNorm(x[t], w.get(p + "post_attention_layernorm.weight"), s.eps());
        double[] gate = linear(h, w.get(p + "mlp.gate_proj.weight"), null);
        double[] up = linear(h, w.get(p + "mlp.up_proj.weight"), null);
        double[] m = new double[gate.length];
        for (int i = 0; i < m.length; i++) m[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
        x[t] = add(x[t], linear(m, w.get(p + "mlp.down_proj.weight"), null));
      }
    }
    Tensor head = w.get(s.tied() ? "model.embed_tokens.weight" : "lm_head.weight");
    double[][] logits = new double[len][];
    for (int t = 0; t < len; t++) logits[t] = linear(rmsNorm(x[t], w.get("model.norm.weight"), s.eps()), head, null);
    return logits;
  }

  private static Tensor bias(Spec s, HfTensors w, String name) {
    return s.bias() ? w.get(name) : null;
  }

  /**
   * HF's rotate_half convention: x * cos + rotate_half(x) * sin with cos, sin of the angles
   * repeated over both halves, i.e. dimension i and i + hd/2 turn together by pos * invFreq[i].
   */
  static void rotate(double[] x, int pos, double[] invFreq) {
    int half = x.length / 2;
    for (int i = 0; i < half; i++) {
      double angle = pos * invFreq[i], cos = Math.cos(angle), sin = Math.sin(angle);
      double a = x[i], b = x[i + half];
      x[i] = a * cos - b * sin;
      x[i + half] = b * cos + a * sin;
    }
  }

  /**
   * theta^(-2i/hd), i < hd/2, then scaled. linear: all divided by factor. llama3 (Llama 3.1):
   * wavelengths shorter than original / high_freq_factor stay, longer than original /
   * low_freq_factor are divided by factor, and those between blend the two linearly in
   * original / wavelength.
   */
  static double[] inverseFrequencies(Spec s) {
    int hd = s.headDim();
    Rope r = s.rope();
    double[] f = new double[hd / 2];
    for (int i = 0; i < f.length; i++) {
      double base = Math.pow(s.theta(), -2.0 * i / hd);
      double wavelength = 2 * Math.PI / base;
      f[i] = switch (r.type()) {
        case "default" -> base;
        case "linear" -> base / r.factor();
        case "llama3" -> {
          double highFreqWavelength = r.originalMaxPositions() / r.highFreqFactor();
          double lowFreqWavelength = r.originalMaxPositions() / r.lowFreqFactor();
          if (wavelength < highFreqWavelength) yield base;
          if (wavelength > lowFreqWavelength) yield base / r.factor();
          double smooth = (r.originalMaxPositions() / wavelength - r.lowFreqFactor())
              / (r.highFreqFactor() - r.lowFreqFactor());
          yield (1 - smooth) * base / r.factor() + smooth * base;
        }
        default -> throw new IllegalArgumentException("rope type " + r.type());
      };
    }
    return f;
  }
}
