package org.rlhf4j.engine;

import java.lang.foreign.MemorySegment;

/**
 * Sampling settings (r4j_generate_options). temperature 0 is greedy; topK 0 and topP 1 are
 * off; eos/stop -1 are none. Same seed, prompts and weights give the same tokens.
 * keepDecodingLogprobs: a bf16/f16 model keeps the log-probs (and values) it recorded while
 * decoding instead of rescoring the rollout with a full forward pass. Immutable and thread-safe.
 */
public record GenerateOptions(
    int maxNewTokens,
    double temperature,
    int topK,
    double topP,
    int eosTokenId,
    int stopTokenId,
    int padTokenId,
    long seed,
    boolean withValues,
    boolean keepDecodingLogprobs) {

  public GenerateOptions {
    if (maxNewTokens < 1) throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
    }
    if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
    if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
  }

  /** Settings whose bf16/f16 log-probs are rescored by a full forward pass (the default). */
  public GenerateOptions(int maxNewTokens, double temperature, int topK, double topP, int eosTokenId,
      int stopTokenId, int padTokenId, long seed, boolean withValues) {
    this(maxNewTokens, temperature, topK, topP, eosTokenId, stopTokenId, padTokenId, seed, withValues, false);
  }

  /** Plain sampling at temperature 1, no EOS, pad 0, seed 0, no values. */
  public static GenerateOptions sampling(int maxNewTokens) {
    return new GenerateOptions(maxNewTokens, 1.0, 0, 1.0, -1, -1, 0, 0, false);
  }

  public GenerateOptions withSeed(long s) {
    return new GenerateOptions(maxNewTokens, temperature, topK, topP, eosTokenId, stopTokenId, padTokenId, s,
        withValues, keepDecodingLogprobs);
  }

  public GenerateOptions withValues(boolean on) {
    return new GenerateOptions(maxNewTokens, temperature, topK, topP, eosTokenId, stopTokenId, padTokenId, seed,
        on, keepDecodingLogprobs);
  }

  public GenerateOptions withTokens(int eos, int stop, int pad) {
    return new GenerateOptions(maxNewTokens, temperature, topK, topP, eos, stop, pad, seed, withValues,
        keepDecodingLogprobs);
  }

  public GenerateOptions withSampling(double t, int k, double p) {
    return new GenerateOptions(maxNewTokens, t, k, p, eosTokenId, stopTokenId, padTokenId, seed, withValues,
        keepDecodingLogprobs);
  }

  public GenerateOptions withKeepDecodingLogprobs(boolean on) {
    return new GenerateOptions(maxNewTokens, temperature, topK, topP, eosTokenId, stopTokenId, padTokenId, seed,
        withValues, on);
  }

  /** The same settings with another token budget. */
  public GenerateOptions withMaxNewTokens(int n) {
    return new GenerateOptions(n, temperature, topK, topP, eosTokenId, stopTokenId, padTokenId, seed, withValues,
        keepDecodingLogprobs);
  }

  void write(MemorySegment s) {
    Struct g = Layouts.GENERATE_OPTIONS;
    g.set(s, "max_new_tokens", (long) maxNewTokens);
    g.set(s, "temperature", temperature);
    g.set(s, "top_k", (long) topK);
    g.set(s, "top_p", topP);
    g.set(s, "eos_token_id", eosTokenId);
    g.set(s, "stop_token_id", stopTokenId);
    g.set(s, "pad_token_id", padTokenId);
    g.set(s, "seed", seed);
    g.set(s, "with_values", withValues);
    g.set(s, "keep_decoding_logprobs", keepDecodingLogprobs);
  }
}
