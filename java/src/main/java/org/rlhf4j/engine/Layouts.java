package org.rlhf4j.engine;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The option and result structs of rlhf4j.h, field for field with C's padding. Their sizes
 * are checked against the library's sizeof() when it loads.
 */
final class Layouts {
  private Layouts() {}

  static final Struct MODEL_CONFIG = new Struct(structLayout(
      JAVA_INT.withName("arch"),
      JAVA_INT.withName("dtype"),
      JAVA_LONG.withName("vocab_size"),
      JAVA_LONG.withName("n_positions"),
      JAVA_LONG.withName("n_embd"),
      JAVA_LONG.withName("n_layer"),
      JAVA_LONG.withName("n_head"),
      JAVA_LONG.withName("n_kv_head"),
      JAVA_LONG.withName("n_inner"),
      JAVA_DOUBLE.withName("norm_eps"),
      JAVA_DOUBLE.withName("rope_theta"),
      JAVA_INT.withName("rope_scaling"),
      paddingLayout(4),
      JAVA_DOUBLE.withName("rope_factor"),
      JAVA_DOUBLE.withName("rope_low_freq_factor"),
      JAVA_DOUBLE.withName("rope_high_freq_factor"),
      JAVA_LONG.withName("rope_original_max_positions"),
      JAVA_INT.withName("tie_word_embeddings"),
      JAVA_INT.withName("attention_bias"),
      JAVA_INT.withName("value_head"),
      JAVA_INT.withName("reward_head"),
      JAVA_DOUBLE.withName("dropout"),
      JAVA_DOUBLE.withName("initializer_range"),
      JAVA_LONG.withName("seed"),
      JAVA_LONG.withName("head_dim"),
      JAVA_INT.withName("qk_norm"),
      paddingLayout(4)));

  static final Struct GENERATE_OPTIONS = new Struct(structLayout(
      JAVA_LONG.withName("max_new_tokens"),
      JAVA_DOUBLE.withName("temperature"),
      JAVA_LONG.withName("top_k"),
      JAVA_DOUBLE.withName("top_p"),
      JAVA_INT.withName("eos_token_id"),
      JAVA_INT.withName("stop_token_id"),
      JAVA_INT.withName("pad_token_id"),
      paddingLayout(4),
      JAVA_LONG.withName("seed"),
      JAVA_INT.withName("with_values"),
      JAVA_INT.withName("keep_decoding_logprobs")));

  static final Struct ADAMW_OPTIONS = new Struct(structLayout(
      JAVA_DOUBLE.withName("beta1"),
      JAVA_DOUBLE.withName("beta2"),
      JAVA_DOUBLE.withName("eps"),
      JAVA_DOUBLE.withName("weight_decay"),
      JAVA_DOUBLE.withName("max_grad_norm")));

  static final Struct STEP_RESULT = new Struct(structLayout(
      JAVA_DOUBLE.withName("grad_norm"),
      JAVA_INT.withName("skipped"),
      paddingLayout(4),
      JAVA_LONG.withName("step")));

  static final Struct PPO_OPTIONS = new Struct(structLayout(
      JAVA_INT.withName("kl_estimator"),
      paddingLayout(4),
      JAVA_DOUBLE.withName("score_clip"),
      JAVA_INT.withName("missing_eos_penalty_on"),
      paddingLayout(4),
      JAVA_DOUBLE.withName("missing_eos_penalty"),
      JAVA_DOUBLE.withName("gamma"),
      JAVA_DOUBLE.withName("lam"),
      JAVA_INT.withName("whiten_advantages"),
      JAVA_INT.withName("clip_ratio"),
      JAVA_DOUBLE.withName("cliprange"),
      JAVA_INT.withName("clip_value"),
      paddingLayout(4),
      JAVA_DOUBLE.withName("cliprange_value"),
      JAVA_DOUBLE.withName("vf_coef"),
      JAVA_DOUBLE.withName("ent_coef"),
      JAVA_DOUBLE.withName("temperature")));

  static final Struct REWARD_STATS = new Struct(structLayout(
      JAVA_DOUBLE.withName("kl"),
      JAVA_DOUBLE.withName("non_score_reward"),
      JAVA_DOUBLE.withName("scores"),
      JAVA_DOUBLE.withName("rlhf_reward"),
      JAVA_DOUBLE.withName("entropy"),
      JAVA_DOUBLE.withName("response_length"),
      JAVA_DOUBLE.withName("eos_rate"),
      JAVA_INT.withName("non_finite"),
      paddingLayout(4)));

  static final Struct ADVANTAGE_STATS = new Struct(structLayout(
      JAVA_DOUBLE.withName("returns_mean"),
      JAVA_DOUBLE.withName("returns_var"),
      JAVA_DOUBLE.withName("advantages_mean"),
      JAVA_DOUBLE.withName("values_mean"),
      JAVA_DOUBLE.withName("var_explained"),
      JAVA_INT.withName("non_finite"),
      paddingLayout(4)));

  static final Struct PPO_STATS = new Struct(structLayout(
      JAVA_DOUBLE.withName("loss_policy"),
      JAVA_DOUBLE.withName("loss_value"),
      JAVA_DOUBLE.withName("loss_total"),
      JAVA_DOUBLE.withName("entropy"),
      JAVA_DOUBLE.withName("approxkl"),
      JAVA_DOUBLE.withName("policy_clipfrac"),
      JAVA_DOUBLE.withName("ratio_mean"),
      JAVA_DOUBLE.withName("ratio_var"),
      JAVA_DOUBLE.withName("value_clipfrac"),
      JAVA_DOUBLE.withName("vpred"),
      JAVA_LONG.withName("n_tokens"),
      JAVA_INT.withName("non_finite"),
      paddingLayout(4)));

  // ---- Algorithms beyond PPO ----------------------------------------------------------------

  static final Struct ALGO_OPTIONS = new Struct(structLayout(
      JAVA_INT.withName("estimator"),
      JAVA_INT.withName("scale_rewards"),
      JAVA_INT.withName("kl_in"),
      JAVA_INT.withName("kl_loss_estimator"),
      JAVA_DOUBLE.withName("kl_loss_coef"),
      JAVA_INT.withName("loss_agg"),
      paddingLayout(4),
      JAVA_LONG.withName("max_new_tokens"),
      JAVA_DOUBLE.withName("cliprange_low"),
      JAVA_DOUBLE.withName("cliprange_high"),
      JAVA_DOUBLE.withName("dual_clip"),
      JAVA_INT.withName("importance_sampling"),
      JAVA_INT.withName("mask_truncated"),
      JAVA_LONG.withName("overlong_buffer_len"),
      JAVA_DOUBLE.withName("overlong_penalty_factor")));

  static final Struct ALGO_LOSS_STATS = new Struct(structLayout(
      JAVA_DOUBLE.withName("kl_loss"),
      JAVA_DOUBLE.withName("dual_clipfrac"),
      JAVA_LONG.withName("n_sequences")));

  static final Struct GROUP_STATS = new Struct(structLayout(
      JAVA_LONG.withName("groups"),
      JAVA_LONG.withName("zero_variance_groups"),
      JAVA_DOUBLE.withName("seq_reward_mean"),
      JAVA_DOUBLE.withName("seq_reward_std")));

  // ---- Data parallelism ---------------------------------------------------------------------

  static final Struct DIST_OPTIONS = new Struct(structLayout(
      JAVA_INT.withName("rank"),
      JAVA_INT.withName("world_size"),
      JAVA_INT.withName("local_rank"),
      JAVA_INT.withName("local_world_size"),
      JAVA_INT.withName("master_port"),
      JAVA_INT.withName("use_agent_store"),
      JAVA_INT.withName("restart_count"),
      JAVA_INT.withName("backend"),
      JAVA_LONG.withName("timeout_ms")));

  static final Struct DIST_COUNTERS = new Struct(structLayout(
      JAVA_DOUBLE.withName("allreduce_seconds"),
      JAVA_LONG.withName("allreduce_bytes"),
      JAVA_LONG.withName("allreduce_calls")));

  // ---- Memory: chunked log-probs, checkpointing, LoRA ---------------------------------------

  static final Struct MEMORY_OPTIONS = new Struct(structLayout(
      JAVA_LONG.withName("logits_chunk"),
      JAVA_INT.withName("gradient_checkpointing"),
      paddingLayout(4)));

  static final Struct LORA_OPTIONS = new Struct(structLayout(
      JAVA_LONG.withName("r"),
      JAVA_DOUBLE.withName("alpha"),
      JAVA_DOUBLE.withName("dropout"),
      JAVA_INT.withName("target_modules"),
      JAVA_INT.withName("use_rslora"),
      JAVA_LONG.withName("seed")));

  // ---- DPO -------------------------------------------------------------------------------------

  static final int DPO_MAX_LOSSES = 8;

  static final Struct DPO_OPTIONS = new Struct(structLayout(
      JAVA_INT.withName("n_losses"),
      sequenceLayout(DPO_MAX_LOSSES, JAVA_INT).withName("loss_types"),
      paddingLayout(4),
      sequenceLayout(DPO_MAX_LOSSES, JAVA_DOUBLE).withName("loss_weights"),
      JAVA_DOUBLE.withName("beta"),
      JAVA_DOUBLE.withName("label_smoothing"),
      JAVA_DOUBLE.withName("simpo_gamma"),
      JAVA_DOUBLE.withName("rpo_alpha")));

  static final Struct DPO_STATS = new Struct(structLayout(
      JAVA_DOUBLE.withName("loss"),
      JAVA_DOUBLE.withName("chosen_rewards"),
      JAVA_DOUBLE.withName("rejected_rewards"),
      JAVA_DOUBLE.withName("accuracies"),
      JAVA_DOUBLE.withName("margins"),
      JAVA_DOUBLE.withName("logps_chosen"),
      JAVA_DOUBLE.withName("logps_rejected"),
      JAVA_DOUBLE.withName("logits_chosen"),
      JAVA_DOUBLE.withName("logits_rejected"),
      JAVA_LONG.withName("tokens_chosen"),
      JAVA_LONG.withName("tokens_rejected"),
      JAVA_LONG.withName("num_tokens"),
      JAVA_DOUBLE.withName("nll"),
      JAVA_LONG.withName("pairs")));

  /** R4J_STRUCT_* code and layout of every struct, for the size check at load time. */
  static final Object[][] CHECKED = {
    {1, MODEL_CONFIG}, {2, GENERATE_OPTIONS}, {3, ADAMW_OPTIONS}, {4, STEP_RESULT},
    {5, PPO_OPTIONS}, {6, PPO_STATS}, {7, REWARD_STATS}, {8, ADVANTAGE_STATS},
    {9, DIST_OPTIONS}, {10, DIST_COUNTERS},
    {11, ALGO_OPTIONS}, {12, ALGO_LOSS_STATS}, {13, GROUP_STATS},
    {14, MEMORY_OPTIONS}, {15, LORA_OPTIONS}, {16, DPO_OPTIONS}, {17, DPO_STATS},
  };
}
