package org.rlhf4j.engine;

/** Fields of a rollout (R4J_FIELD_*): B samples, P prompt columns, R response columns. Thread-safe. */
public enum RolloutField {
  QUERY_TOKENS(0, DType.I32, false),
  QUERY_MASK(1, DType.U8, false),
  RESPONSE_TOKENS(2, DType.I32, false),
  RESPONSE_MASK(3, DType.U8, false),
  RESPONSE_LENGTH(4, DType.I32, true),
  ENDED(5, DType.U8, true),
  OLD_LOGPROBS(6, DType.F32, false),
  OLD_VALUES(7, DType.F32, false),
  REF_LOGPROBS(8, DType.F32, false),
  SCORES(9, DType.F32, true),
  KL(10, DType.F32, false),
  REWARDS(11, DType.F32, false),
  RETURNS(12, DType.F32, false),
  ADVANTAGES(13, DType.F32, false),
  ADVANTAGES_WHITENED(14, DType.F32, false),
  FULL_KL(15, DType.F32, false),
  /** The group (prompt) of each sample; written by the trainer for group estimators. */
  GROUP_ID(20, DType.F32, true),
  /** 1 where a token counts in the loss (0 for truncated samples when ppo.mask_truncated). */
  LOSS_MASK(21, DType.F32, false),
  /** The score as put on the last token: after normalisation, clipping and overlong shaping. */
  SCORES_SHAPED(22, DType.F32, true),
  /**
   * Multi-turn episodes: 1 on the response tokens the policy sampled, 0 on observation tokens
   * (tool results, template glue) between its turns. Unwritten, every response token is an action
   * (and it reads as the response mask).
   */
  ACTION_MASK(23, DType.F32, false),
  /** The environment's per-turn rewards, on each turn's last action token; added to REWARDS. */
  TURN_REWARDS(24, DType.F32, false);

  final int code;
  final DType dtype;
  final boolean perSample;

  RolloutField(int code, DType dtype, boolean perSample) {
    this.code = code;
    this.dtype = dtype;
    this.perSample = perSample;
  }

  public DType dtype() {
    return dtype;
  }

  /** [B] rather than [B, R] (or [B, P] for the query fields). */
  public boolean perSample() {
    return perSample;
  }
}
