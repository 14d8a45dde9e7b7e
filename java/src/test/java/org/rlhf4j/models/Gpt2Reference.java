package org.rlhf4j.models;

import static org.rlhf4j.models.RefMath.add;
import static org.rlhf4j.models.RefMath.causalAttention;
import static org.rlhf4j.models.RefMath.conv1d;
import static org.rlhf4j.models.RefMath.heads;
import static org.rlhf4j.models.RefMath.layerNorm;
import static org.rlhf4j.models.RefMath.row;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GPT-2 as Radford et al. describe it and transformers' GPT2LMHeadModel computes it, written
 * independently of the native code: token + learned position embeddings, pre-LayerNorm blocks
 * of causal self-attention (fused q|k|v Conv1D) and a GELU (tanh) MLP, a final LayerNorm and
 * the head tied to the token embedding. Slow and obvious; for tests only.
 */
final class Gpt2Reference {
  /** A GPT-2 shape; {@link #config} is its config.json. */
  record Spec(int vocab, int positions, int embd, int layers, int heads, int inner, double eps) {
    /** config.json as transformers writes it for GPT2LMHeadModel (n_inner null when 4 * n_embd). */
    Map<String, Object> config(String torchDtype) {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("architectures", List.of("GPT2LMHeadModel"));
      c.put("model_type", "gpt2");
      c.put("vocab_size", vocab);
      c.put("n_positions", positions);
      c.put("n_ctx", positions);
      c.put("n_embd", embd);
      c.put("n_layer", layers);
      c.put("n_head", heads);
      c.put("n_inner", inner == 4 * embd ? null : inner);
      c.put("activation_function", "gelu_new");
      c.put("layer_norm_epsilon", eps);
      c.put("resid_pdrop", 0.1);
      c.put("embd_pdrop", 0.1);
      c.put("attn_pdrop", 0.1);
      c.put("initializer_range", 0.02);
      c.put("bos_token_id", vocab - 1);
      c.put("eos_token_id", vocab - 1);
      c.put("torch_dtype", torchDtype);
      return c;
    }
  }

  private Gpt2Reference() {}

  /**
   * Random weights under GPT2LMHeadModel's names and shapes (Conv1D weights [in, out]), large
   * enough that attention is far from uniform and every bias and gain matters.
   */
  static HfTensors randomWeights(Spec s, long seed) {
    int d = s.embd();
    HfTensors w = new HfTensors(seed)
        .normal("transformer.wte.weight", 0, 0.3, s.vocab(), d)
        .normal("transformer.wpe.weight", 0, 0.3, s.positions(), d);
    for (int l = 0; l < s.layers(); l++) {
      String p = "transformer.h." + l + ".";
      w.normal(p + "ln_1.weight", 1, 0.2, d).normal(p + "ln_1.bias", 0, 0.2, d)
          .normal(p + "attn.c_attn.weight", 0, 0.3, d, 3L * d).normal(p + "attn.c_attn.bias", 0, 0.2, 3L * d)
          .normal(p + "attn.c_proj.weight", 0, 0.2, d, d).normal(p + "attn.c_proj.bias", 0, 0.2, d)
          .normal(p + "ln_2.weight", 1, 0.2, d).normal(p + "ln_2.bias", 0, 0.2, d)
          .normal(p + "mlp.c_fc.weight", 0, 0.3, d, s.inner()).normal(p + "mlp.c_fc.bias", 0, 0.2, s.inner())
          .normal(p + "mlp.c_proj.weight", 0, 0.2, s.inner(), d).normal(p + "mlp.c_proj.bias", 0, 0.2, d);
    }
    return w.normal("transformer.ln_f.weight", 1, 0.2, d).normal("transformer.ln_f.bias", 0, 0.2, d);
  }

  /** Logits [T][vocab] of one sequence, positions 0 .. T-1. */
  static double[][] logits(Spec s, HfTensors w, int[] tokens) {
    int len = tokens.length, d = s.embd(), nh = s.heads(), hd = d / nh;
    double[][] x = new double[len][];
    for (int t = 0; t < len; t++) {
      x[t] = add(row(w.get("transformer.wte.weight"), tokens[t]), row(w.get("transformer.wpe.weight"), t));
    }
    for (int l = 0; l < s.layers(); l++) {
      String p = "transformer.h." + l + ".";
      // Attention: the fused projection's output is q | k | v, each nh heads of hd.
      double[][][] q = new double[len][][], k = new double[len][][], v = new double[len][][];
      for (int t = 0; t < len; t++) {
        double[] h = layerNorm(x[t], w.get(p + "ln_1.weight"), w.get(p + "ln_1.bias"), s.eps());
        double[] qkv = conv1d(h, w.get(p + "attn.c_attn.weight"), w.get(p + "attn.c_attn.bias"));
        q[t] = heads(qkv, 0, nh, hd);
        k[t] = heads(qkv, d, nh, hd);
        v[t] = heads(qkv, 2 * d, nh, hd);
      }
      double[][] y = causalAttention(q, k, v);
      for (int t = 0; t < len; t++) {
        x[t] = add(x[t], conv1d(y[t], w.get(p + "attn.c_proj.weight"), w.get(p + "attn.c_proj.bias")));
      }
      // MLP: c_proj(gelu(c_fc(ln_2(x))))
      for (int t = 0; t < len; t++) {
        double[] h = layerNorm(x[t], w.get(p + "ln_2.weight"), w.get(p + "ln_2.bias"), s.eps());
        double[] m = conv1d(h, w.get(p + "mlp.c_fc.weight"), w.get(p + "mlp.c_fc.bias"));
        for (int i = 0; i < m.length; i++) m[i] = geluTanh(m[i]);
        x[t] = add(x[t], conv1d(m, w.get(p + "mlp.c_proj.weight"), w.get(p + "mlp.c_proj.bias")));
      }
    }
    double[][] logits = new double[len][s.vocab()];
    for (int t = 0; t < len; t++) {
      double[] h = layerNorm(x[t], w.get("transformer.ln_f.weight"), w.get("transformer.ln_f.bias"), s.eps());
      for (int tok = 0; tok < s.vocab(); tok++) {
        double[] e = row(w.get("transformer.wte.weight"), tok);  // the tied head
        for (int i = 0; i < d; i++) logits[t][tok] += h[i] * e[i];
      }
    }
    return logits;
  }

  /** GELU with the tanh approximation ("gelu_new"). */
  static double geluTanh(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }
}
