package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * The shape of a model (r4j_model_config). {@link #gpt2}, {@link #llama} and {@link #qwen3}
 * give the architectures' usual defaults; the {@code with*} methods change one thing. The
 * native library validates every field when a model is created. Immutable and thread-safe.
 *
 * @param headDim the size of one attention head; 0 (or the derived value) = nEmbd / nHead,
 *     which the constructor fills in when nHead divides nEmbd. Qwen3 sets its own.
 * @param qkNorm Llama family: RMSNorm over each head of q and k before the rotation (Qwen3)
 */
public record ModelConfig(
    Arch arch,
    DType dtype,
    long vocabSize,
    long nPositions,
    long nEmbd,
    long nLayer,
    long nHead,
    long nKvHead,
    long nInner,
    double normEps,
    double ropeTheta,
    RopeScaling ropeScaling,
    double ropeFactor,
    double ropeLowFreqFactor,
    double ropeHighFreqFactor,
    long ropeOriginalMaxPositions,
    boolean tieWordEmbeddings,
    boolean attentionBias,
    boolean valueHead,
    boolean rewardHead,
    double dropout,
    double initializerRange,
    long seed,
    long headDim,
    boolean qkNorm) {

  public enum Arch {
    GPT2(0),
    LLAMA(1);

    final int code;

    Arch(int code) {
      this.code = code;
    }

    static Arch ofCode(int code) {
      for (Arch a : values()) if (a.code == code) return a;
      throw new IllegalArgumentException("unknown architecture code " + code);
    }
  }

  public enum RopeScaling {
    NONE(0),
    LINEAR(1),
    LLAMA3(2);

    final int code;

    RopeScaling(int code) {
      this.code = code;
    }

    static RopeScaling ofCode(int code) {
      for (RopeScaling r : values()) if (r.code == code) return r;
      throw new IllegalArgumentException("unknown rope scaling code " + code);
    }
  }

  public ModelConfig {
    if (arch == null) throw new IllegalArgumentException("model config: arch is required");
    if (dtype == null) throw new IllegalArgumentException("model config: dtype is required");
    if (ropeScaling == null) ropeScaling = RopeScaling.NONE;
    // Resolved here as the native library resolves it, so configs read back compare equal.
    if (headDim == 0 && nHead > 0 && nEmbd % nHead == 0) headDim = nEmbd / nHead;
  }

  /** A GPT-2 shape: n_inner = 4 * n_embd, layer_norm_epsilon 1e-5, tied head, no dropout. */
  public static ModelConfig gpt2(long vocabSize, long nPositions, long nEmbd, long nLayer, long nHead) {
    return new ModelConfig(Arch.GPT2, DType.F32, vocabSize, nPositions, nEmbd, nLayer, nHead, nHead,
        4 * nEmbd, 1e-5, 10000.0, RopeScaling.NONE, 1.0, 1.0, 4.0, 8192, true, false, false, false,
        0.0, 0.02, 0, 0, false);
  }

  /** A Llama shape: RMSNorm eps 1e-6, rope theta 10000, untied head. */
  public static ModelConfig llama(long vocabSize, long nPositions, long nEmbd, long nLayer, long nHead,
      long nKvHead, long nInner) {
    return new ModelConfig(Arch.LLAMA, DType.F32, vocabSize, nPositions, nEmbd, nLayer, nHead, nKvHead,
        nInner, 1e-6, 10000.0, RopeScaling.NONE, 1.0, 1.0, 4.0, 8192, false, false, false, false,
        0.0, 0.02, 0, 0, false);
  }

  /**
   * A Qwen3 shape: the Llama family with per-head q/k RMSNorm and a head size of its own,
   * no q/k/v biases, RMSNorm eps 1e-6, rope theta 1e6, tied head (as Qwen3's small models).
   */
  public static ModelConfig qwen3(long vocabSize, long nPositions, long nEmbd, long nLayer, long nHead,
      long nKvHead, long headDim, long nInner) {
    return new ModelConfig(Arch.LLAMA, DType.F32, vocabSize, nPositions, nEmbd, nLayer, nHead, nKvHead,
        nInner, 1e-6, 1e6, RopeScaling.NONE, 1.0, 1.0, 4.0, 8192, true, false, false, false,
        0.0, 0.02, 0, headDim, true);
  }

  public ModelConfig withValueHead(boolean on) {
    return copy(dtype, on, rewardHead, dropout, seed);
  }

  public ModelConfig withRewardHead(boolean on) {
    return copy(dtype, valueHead, on, dropout, seed);
  }

  public ModelConfig withSeed(long newSeed) {
    return copy(dtype, valueHead, rewardHead, dropout, newSeed);
  }

  public ModelConfig withDtype(DType newDtype) {
    return copy(newDtype, valueHead, rewardHead, dropout, seed);
  }

  public ModelConfig withDropout(double p) {
    return copy(dtype, valueHead, rewardHead, p, seed);
  }

  /** This shape with the fields that the with* methods change. */
  private ModelConfig copy(DType newDtype, boolean newValueHead, boolean newRewardHead, double newDropout,
      long newSeed) {
    return new ModelConfig(arch, newDtype, vocabSize, nPositions, nEmbd, nLayer, nHead, nKvHead, nInner, normEps,
        ropeTheta, ropeScaling, ropeFactor, ropeLowFreqFactor, ropeHighFreqFactor, ropeOriginalMaxPositions,
        tieWordEmbeddings, attentionBias, newValueHead, newRewardHead, newDropout, initializerRange, newSeed, headDim,
        qkNorm);
  }

  /** Parameter count of the transformer and its heads. */
  public long parameterCount() {
    long d = nEmbd;
    long heads = (valueHead ? d + 1 : 0) + (rewardHead ? d : 0);
    if (arch == Arch.GPT2) {
      long block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * nInner + nInner) + (nInner * d + d);
      return vocabSize * d + nPositions * d + nLayer * block + 2 * d + heads;
    }
    long hd = headDim;
    long attn = d * nHead * hd + 2 * d * nKvHead * hd + nHead * hd * d
        + (attentionBias ? nHead * hd + 2 * nKvHead * hd : 0) + (qkNorm ? 2 * hd : 0);
    long block = 2 * d + attn + 3 * d * nInner;
    return vocabSize * d * (tieWordEmbeddings ? 1 : 2) + nLayer * block + d + heads;
  }

  void write(MemorySegment s) {
    Struct c = Layouts.MODEL_CONFIG;
    c.set(s, "arch", arch.code);
    c.set(s, "dtype", dtype.code());
    c.set(s, "vocab_size", vocabSize);
    c.set(s, "n_positions", nPositions);
    c.set(s, "n_embd", nEmbd);
    c.set(s, "n_layer", nLayer);
    c.set(s, "n_head", nHead);
    c.set(s, "n_kv_head", nKvHead);
    c.set(s, "n_inner", nInner);
    c.set(s, "norm_eps", normEps);
    c.set(s, "rope_theta", ropeTheta);
    c.set(s, "rope_scaling", ropeScaling.code);
    c.set(s, "rope_factor", ropeFactor);
    c.set(s, "rope_low_freq_factor", ropeLowFreqFactor);
    c.set(s, "rope_high_freq_factor", ropeHighFreqFactor);
    c.set(s, "rope_original_max_positions", ropeOriginalMaxPositions);
    c.set(s, "tie_word_embeddings", tieWordEmbeddings);
    c.set(s, "attention_bias", attentionBias);
    c.set(s, "value_head", valueHead);
    c.set(s, "reward_head", rewardHead);
    c.set(s, "dropout", dropout);
    c.set(s, "initializer_range", initializerRange);
    c.set(s, "seed", seed);
    c.set(s, "head_dim", headDim);
    c.set(s, "qk_norm", qkNorm);
  }

  static ModelConfig read(MemorySegment s) {
    Struct c = Layouts.MODEL_CONFIG;
    return new ModelConfig(
        Arch.ofCode(c.getInt(s, "arch")),
        DType.ofCode(c.getInt(s, "dtype")),
        c.getLong(s, "vocab_size"),
        c.getLong(s, "n_positions"),
        c.getLong(s, "n_embd"),
        c.getLong(s, "n_layer"),
        c.getLong(s, "n_head"),
        c.getLong(s, "n_kv_head"),
        c.getLong(s, "n_inner"),
        c.getDouble(s, "norm_eps"),
        c.getDouble(s, "rope_theta"),
        RopeScaling.ofCode(c.getInt(s, "rope_scaling")),
        c.getDouble(s, "rope_factor"),
        c.getDouble(s, "rope_low_freq_factor"),
        c.getDouble(s, "rope_high_freq_factor"),
        c.getLong(s, "rope_original_max_positions"),
        c.getBool(s, "tie_word_embeddings"),
        c.getBool(s, "attention_bias"),
        c.getBool(s, "value_head"),
        c.getBool(s, "reward_head"),
        c.getDouble(s, "dropout"),
        c.getDouble(s, "initializer_range"),
        c.getLong(s, "seed"),
        c.getLong(s, "head_dim"),
        c.getBool(s, "qk_norm"));
  }
}
