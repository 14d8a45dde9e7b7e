package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The PPO math's switches (r4j_ppo_options). {@link #defaults()} is the seed algorithm exactly:
 * k1 KL, gamma = lambda = 1, no whitening, no ratio or value clipping, vf_coef 0.1. Immutable and
 * thread-safe.
 */
public record PpoOptions(
    KlEstimator klEstimator,
    double scoreClip,
    boolean missingEosPenaltyOn,
    double missingEosPenalty,
    double gamma,
    double lam,
    boolean whitenAdvantages,
    boolean clipRatio,
    double cliprange,
    boolean clipValue,
    double cliprangeValue,
    double vfCoef,
    double entCoef,
    double temperature) {

  /** How the per-token KL penalty is estimated. */
  public enum KlEstimator {
    /** old_logprobs - ref_logprobs: the seed's. */
    K1(0),
    /** (r - 1) - log r with r = p_ref / p_old: unbiased and non-negative (Schulman). */
    K3(1),
    /** The exact KL over the vocabulary. */
    FULL(2);

    final int code;

    KlEstimator(int code) {
      this.code = code;
    }

    static KlEstimator of(int code) {
      return Codes.of(values(), code, k -> k.code);
    }
  }

  /**
   * The native library's defaults (r4j_ppo_options_defaults: the seed algorithm). The engine
   * keeps no copy of them; config's ppo section is the source users see, and a test holds the
   * two equal.
   */
  public static PpoOptions defaults() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(Layouts.PPO_OPTIONS.layout());
      NativeLibrary.get().ppoOptionsDefaults(s);
      return read(s);
    }
  }

  /**
   * Checks these options with algo as every PPO call does first (r4j_ppo_validate).
   *
   * @throws NativeException naming the field and its bound
   */
  public void validate(AlgoOptions algo) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.PPO_OPTIONS.layout());
      write(o);
      MemorySegment a = arena.allocate(Layouts.ALGO_OPTIONS.layout());
      algo.write(a);
      NativeLibrary.get().ppoValidate(o, a);
    }
  }

  static PpoOptions read(MemorySegment s) {
    Struct p = Layouts.PPO_OPTIONS;
    return new PpoOptions(KlEstimator.of(p.getInt(s, "kl_estimator")), p.getDouble(s, "score_clip"),
        p.getInt(s, "missing_eos_penalty_on") != 0, p.getDouble(s, "missing_eos_penalty"), p.getDouble(s, "gamma"),
        p.getDouble(s, "lam"), p.getInt(s, "whiten_advantages") != 0, p.getInt(s, "clip_ratio") != 0,
        p.getDouble(s, "cliprange"), p.getInt(s, "clip_value") != 0, p.getDouble(s, "cliprange_value"),
        p.getDouble(s, "vf_coef"), p.getDouble(s, "ent_coef"), p.getDouble(s, "temperature"));
  }

  void write(MemorySegment s) {
    Struct p = Layouts.PPO_OPTIONS;
    p.set(s, "kl_estimator", klEstimator.code);
    p.set(s, "score_clip", scoreClip);
    p.set(s, "missing_eos_penalty_on", missingEosPenaltyOn);
    p.set(s, "missing_eos_penalty", missingEosPenalty);
    p.set(s, "gamma", gamma);
    p.set(s, "lam", lam);
    p.set(s, "whiten_advantages", whitenAdvantages);
    p.set(s, "clip_ratio", clipRatio);
    p.set(s, "cliprange", cliprange);
    p.set(s, "clip_value", clipValue);
    p.set(s, "cliprange_value", cliprangeValue);
    p.set(s, "vf_coef", vfCoef);
    p.set(s, "ent_coef", entCoef);
    p.set(s, "temperature", temperature);
  }
}
