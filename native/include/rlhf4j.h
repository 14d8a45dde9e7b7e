/*
 * rlhf4j.h — the C ABI of the rlhf4j native library.
 *
 * This header is the one contract between the native core and its callers
 * (the Java layer binds it through the FFM API). It is plain C99 so a binding
 * generator such as jextract can read it.
 *
 * Conventions (apply to every function below):
 *  - Every function returns an r4j_status; R4J_OK is 0. Outputs go to
 *    trailing out-parameters, which are written only on success.
 *  - On failure, r4j_last_error() returns a one-line message for the calling
 *    thread. No C++ exception ever crosses this boundary.
 *  - Handles are opaque and created/destroyed in pairs (r4j_X_create /
 *    r4j_X_destroy). A destroyed or foreign handle is detected and rejected
 *    with R4J_ERR_INVALID_HANDLE; destroying NULL is a no-op.
 *  - A handle is not thread-safe: two threads calling into the same handle at
 *    once get R4J_ERR_BUSY for the second call. Different handles may be used
 *    from different threads concurrently.
 *  - The caller allocates every buffer and passes its capacity (in elements
 *    unless a name says bytes). The library never keeps a pointer to caller
 *    memory after a call returns.
 *  - Tensors crossing the boundary are dense, row-major, on the host.
 *  - Option structs are filled by their *_defaults() function first; the
 *    caller then changes the fields it wants.
 *  - Enumerations are int32_t.
 *  - Grow by adding functions; a published signature never changes.
 */
#ifndef RLHF4J_H
#define RLHF4J_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define R4J_API __declspec(dllexport)
#else
#define R4J_API __attribute__((visibility("default")))
#endif

/* Bumped when a function or struct is added (3: DPO; 4: the plain
 * r4j_ppo_rewards, r4j_ppo_advantages and r4j_ppo_accumulate removed, their
 * _ex forms the one path; 5: r4j_release_cached_memory, and the functions
 * added after 4 without a bump); callers check it at load time. */
#define R4J_ABI_VERSION 5

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef int32_t r4j_status;

#define R4J_OK 0
#define R4J_ERR_INVALID_ARGUMENT 1 /* a value out of range, an empty batch, ... */
#define R4J_ERR_INVALID_HANDLE 2   /* NULL, destroyed, or of the wrong kind */
#define R4J_ERR_BUFFER_TOO_SMALL 3 /* the capacity passed is below what is needed */
#define R4J_ERR_NOT_FOUND 4        /* a named tensor or field does not exist */
#define R4J_ERR_DEVICE 5           /* the device does not exist or failed */
#define R4J_ERR_BUSY 6             /* the handle is in use by another thread */
#define R4J_ERR_NON_FINITE 7       /* NaN or Inf met where it is not allowed */
#define R4J_ERR_RUNTIME 8          /* anything else (the message says what) */

/* Thread-local message of the last failed call on this thread ("" if none).
 * Owned by the library; valid until the next call on this thread. */
R4J_API const char *r4j_last_error(void);

/* ------------------------------------------------------------------------ */
/* Library                                                                   */
/* ------------------------------------------------------------------------ */

/* Writes the ABI version (R4J_ABI_VERSION the library was built with). */
R4J_API r4j_status r4j_abi_version(int32_t *out_version);

/* Writes a JSON object into buf (capacity cap bytes, NUL included):
 * {"version","abi","libtorch","blas","cuda","cuda_archs":[...],
 *  "devices":[...],"threads"}. *out_needed receives the size needed
 * (NUL included), also when R4J_ERR_BUFFER_TOO_SMALL is returned. */
R4J_API r4j_status r4j_build_info(char *buf, size_t cap, size_t *out_needed);

/* Sets the intra-op thread count (0 = one per core). Process-wide. */
R4J_API r4j_status r4j_set_num_threads(int32_t n);

/* Hands back to the system the memory kept for reuse: the CPU cache's free
 * pages and the C heap's free pages (malloc_trim). Live tensors stay; later
 * allocations take fresh pages again. For a process between stages, e.g.
 * before measuring one stage's peak RSS. Process-wide. */
R4J_API r4j_status r4j_release_cached_memory(void);

/* Seeds the generator behind dropout in training passes. Process-wide. */
R4J_API r4j_status r4j_manual_seed(uint64_t seed);

/* Measures this machine's float32 matrix-multiply rate on device: the best
 * of `iterations` timed n x n x n products after a warm-up, in GFLOP/s.
 * Benchmarks use it to put a phase's achieved rate in context. */
R4J_API r4j_status r4j_gemm_gflops(const char *device, int64_t n, int32_t iterations, double *out_gflops);

/* sizeof() of an ABI struct, so a binding can check its layouts.
 * which: one of R4J_STRUCT_*. */
#define R4J_STRUCT_MODEL_CONFIG 1
#define R4J_STRUCT_GENERATE_OPTIONS 2
#define R4J_STRUCT_ADAMW_OPTIONS 3
#define R4J_STRUCT_STEP_RESULT 4
#define R4J_STRUCT_PPO_OPTIONS 5
#define R4J_STRUCT_PPO_STATS 6
#define R4J_STRUCT_REWARD_STATS 7
#define R4J_STRUCT_ADVANTAGE_STATS 8
R4J_API r4j_status r4j_struct_size(int32_t which, size_t *out_size);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct r4j_model r4j_model;

#define R4J_ARCH_GPT2 0  /* GPT-2: learned positions, pre-LayerNorm, GELU(tanh), tied head */
#define R4J_ARCH_LLAMA 1 /* Llama/Qwen2/Qwen3/Mistral: RMSNorm, RoPE, SwiGLU, GQA */

#define R4J_DTYPE_F32 0
#define R4J_DTYPE_F16 1
#define R4J_DTYPE_BF16 2
#define R4J_DTYPE_I32 3
#define R4J_DTYPE_I64 4
#define R4J_DTYPE_U8 5
#define R4J_DTYPE_F64 6

#define R4J_ROPE_NONE 0
#define R4J_ROPE_LINEAR 1
#define R4J_ROPE_LLAMA3 2

typedef struct r4j_model_config {
  int32_t arch;              /* R4J_ARCH_* */
  int32_t dtype;             /* parameter dtype: F32, F16, BF16 (F64 for gradient checks) */
  int64_t vocab_size;
  int64_t n_positions;       /* context window */
  int64_t n_embd;
  int64_t n_layer;
  int64_t n_head;
  int64_t n_kv_head;         /* Llama: grouped-query heads (0 = n_head) */
  int64_t n_inner;           /* MLP width (0 = 4 * n_embd for GPT-2) */
  double norm_eps;           /* layer_norm_epsilon / rms_norm_eps */
  double rope_theta;         /* Llama */
  int32_t rope_scaling;      /* R4J_ROPE_* */
  double rope_factor;        /* linear / llama3 scaling factor */
  double rope_low_freq_factor;
  double rope_high_freq_factor;
  int64_t rope_original_max_positions;
  int32_t tie_word_embeddings; /* LM head shares the token embedding */
  int32_t attention_bias;      /* Llama: q/k/v projections carry biases (Qwen2) */
  int32_t value_head;        /* add the critic head v_head.summary (scalar) */
  int32_t reward_head;       /* add the reward head score (scalar) */
  double dropout;            /* resid/embd/attn dropout in training passes */
  double initializer_range;  /* std of the normal init */
  uint64_t seed;             /* seed of the random initialisation */
  int64_t head_dim;          /* Llama: size of one attention head (0 = n_embd / n_head); Qwen3 sets its own */
  int32_t qk_norm;           /* Llama: RMSNorm over each head of q and k before RoPE (Qwen3's q_norm, k_norm) */
} r4j_model_config;

/* GPT-2 small's shape with the critic head off. */
R4J_API r4j_status r4j_model_config_defaults(r4j_model_config *out);

/* Creates a model with randomly initialised weights (GPT-2's init scheme) on
 * device ("cpu", "cuda", "cuda:N"). Destroy with r4j_model_destroy. */
R4J_API r4j_status r4j_model_create(const r4j_model_config *config, const char *device,
                                    r4j_model **out_model);

R4J_API r4j_status r4j_model_destroy(r4j_model *model);

/* Writes back the model's config (defaults resolved). */
R4J_API r4j_status r4j_model_get_config(const r4j_model *model, r4j_model_config *out);

/* Number of named tensors (parameters) in the model. */
R4J_API r4j_status r4j_model_tensor_count(const r4j_model *model, int64_t *out_count);

/* Describes tensor number index (0-based, stable order): its Hugging Face
 * name into name_buf (capacity name_cap bytes, NUL included), its dtype and
 * shape (shape_cap entries). */
R4J_API r4j_status r4j_model_tensor_info(const r4j_model *model, int64_t index, char *name_buf,
                                         size_t name_cap, int32_t *out_dtype, int32_t *out_ndim,
                                         int64_t *shape, int32_t shape_cap);

/* Copies the named tensor to dst, converted to dtype (F32/F16/BF16/F64).
 * dst_bytes must be at least numel * element size. */
R4J_API r4j_status r4j_model_read_tensor(const r4j_model *model, const char *name, int32_t dtype,
                                         void *dst, size_t dst_bytes);

/* Overwrites the named tensor from src (dtype F32/F16/BF16/F64, numel must
 * match exactly; src_bytes = numel * element size). Non-finite values are
 * rejected with R4J_ERR_NON_FINITE and leave the tensor unchanged. */
R4J_API r4j_status r4j_model_write_tensor(r4j_model *model, const char *name, int32_t dtype,
                                          const void *src, size_t src_bytes);

/* Copies every tensor of src into dst (same config); e.g. reference := SFT. */
R4J_API r4j_status r4j_model_copy_weights(r4j_model *dst, const r4j_model *src);

/* Sets training mode (dropout on when config.dropout > 0) or eval mode. */
R4J_API r4j_status r4j_model_set_training(r4j_model *model, int32_t training);

/* ---- Scoring passes over given sequences --------------------------------
 * tokens: [batch, seq_len] int32, row-major. attention_mask: [batch, seq_len]
 * uint8 (1 = real token, 0 = padding); padding may sit left or right; position
 * ids count real tokens only. */

/* Full logits [batch, seq_len, vocab] into out (capacity out_cap floats).
 * Meant for tests and small inputs. */
R4J_API r4j_status r4j_model_logits(r4j_model *model, const int32_t *tokens,
                                    const uint8_t *attention_mask, int64_t batch, int64_t seq_len,
                                    float *out, size_t out_cap);

/* For each position t >= 1: logprob of tokens[t] given tokens[<t] under
 * logits / temperature, into out_logprobs [batch, seq_len] (position 0 and
 * padding receive 0). out_entropy (optional, NULL to skip) gets the entropy
 * of that predictive distribution; out_values (optional; needs a value head)
 * the critic's value at each position. Capacity: batch*seq_len each. */
R4J_API r4j_status r4j_model_score(r4j_model *model, const int32_t *tokens,
                                   const uint8_t *attention_mask, int64_t batch, int64_t seq_len,
                                   double temperature, float *out_logprobs, float *out_entropy,
                                   float *out_values, size_t cap);

/* The reward head's score at each sequence's last real token: out [batch]. */
R4J_API r4j_status r4j_model_reward(r4j_model *model, const int32_t *tokens,
                                    const uint8_t *attention_mask, int64_t batch, int64_t seq_len,
                                    float *out_scores, size_t cap);

/* ------------------------------------------------------------------------ */
/* Rollouts: a batch of prompt + response sequences kept in native memory    */
/* ------------------------------------------------------------------------ */

typedef struct r4j_rollout r4j_rollout;

/* Fields of a rollout. B = batch, P = padded prompt length, R = response
 * length (the longest response). Prompts are left-padded, responses
 * right-padded. "Response mask" is 1 on real response tokens (the EOS or
 * stop token included) and 0 on padding after it. */
#define R4J_FIELD_QUERY_TOKENS 0     /* int32 [B, P], left-padded with pad id */
#define R4J_FIELD_QUERY_MASK 1       /* uint8 [B, P] */
#define R4J_FIELD_RESPONSE_TOKENS 2  /* int32 [B, R], right-padded with pad id */
#define R4J_FIELD_RESPONSE_MASK 3    /* uint8 [B, R] */
#define R4J_FIELD_RESPONSE_LENGTH 4  /* int32 [B] */
#define R4J_FIELD_ENDED 5            /* uint8 [B]: 1 when EOS/stop was generated */
#define R4J_FIELD_OLD_LOGPROBS 6     /* float [B, R] */
#define R4J_FIELD_OLD_VALUES 7       /* float [B, R] */
#define R4J_FIELD_REF_LOGPROBS 8     /* float [B, R] */
#define R4J_FIELD_SCORES 9           /* float [B] */
#define R4J_FIELD_KL 10              /* float [B, R]: the chosen KL estimator per token */
#define R4J_FIELD_REWARDS 11         /* float [B, R] */
#define R4J_FIELD_RETURNS 12         /* float [B, R] */
#define R4J_FIELD_ADVANTAGES 13      /* float [B, R], before whitening */
#define R4J_FIELD_ADVANTAGES_WHITENED 14 /* float [B, R], what the loss uses */
#define R4J_FIELD_FULL_KL 15         /* float [B, R]: KL(old || ref) over the vocabulary */

/* Builds a rollout from given tokens (no generation): queries [B, query_stride]
 * with query_lengths[b] >= 1 real tokens at the start of each row (any tail
 * is ignored), responses likewise (response_lengths[b] >= 1). pad_token_id
 * fills the padding. ENDED is 1 where the response's last token is
 * eos_token_id (every sample when eos_token_id is -1). The rollout lives on
 * like's device and is checked against its vocabulary and context window.
 * Float fields start as zeros. */
R4J_API r4j_status r4j_rollout_create(const r4j_model *like, const int32_t *queries,
                                      const int32_t *query_lengths, int64_t query_stride,
                                      const int32_t *responses, const int32_t *response_lengths,
                                      int64_t response_stride, int64_t batch, int32_t pad_token_id,
                                      int32_t eos_token_id, r4j_rollout **out_rollout);

R4J_API r4j_status r4j_rollout_destroy(r4j_rollout *rollout);

/* Writes B, P and R. */
R4J_API r4j_status r4j_rollout_shape(const r4j_rollout *rollout, int64_t *out_batch,
                                     int64_t *out_query_len, int64_t *out_response_len);

/* Copies a field (R4J_FIELD_*) into dst; cap in elements of the field's type.
 * A field never computed reads as zeros (an unwritten ACTION_MASK as the
 * response mask); reading creates no field. */
R4J_API r4j_status r4j_rollout_read(const r4j_rollout *rollout, int32_t field, void *dst,
                                    size_t cap);

/* Overwrites a float field (OLD_LOGPROBS .. FULL_KL) from src (n elements,
 * exactly the field's size). Non-finite values are accepted here: the PPO
 * step detects them. */
R4J_API r4j_status r4j_rollout_write(r4j_rollout *rollout, int32_t field, const float *src,
                                     size_t n);

/* ------------------------------------------------------------------------ */
/* Generation (the rollout phase)                                            */
/* ------------------------------------------------------------------------ */

typedef struct r4j_generate_options {
  int64_t max_new_tokens;
  double temperature;    /* > 0: sample from softmax(logits / T); 0: greedy */
  int64_t top_k;         /* 0 = off */
  double top_p;          /* 1.0 = off */
  int32_t eos_token_id;  /* -1 = none; generation of a sequence stops after it */
  int32_t stop_token_id; /* -1 = none; like EOS: the response is cut after it */
  int32_t pad_token_id;
  uint64_t seed;         /* same seed, same prompts, same weights: same tokens */
  int32_t with_values;   /* record the critic's values (needs a value head) */
  int32_t keep_decoding_logprobs; /* bf16/f16 only: 1 keeps the log-probs and values
                                   * recorded while decoding as OLD_LOGPROBS/OLD_VALUES
                                   * (verl's bypass mode); 0 (default) replaces them by a
                                   * full forward pass, the learning phase's numerics */
} r4j_generate_options;

R4J_API r4j_status r4j_generate_options_defaults(r4j_generate_options *out);

/* Generates a response per prompt with a KV cache, batched. prompts:
 * [batch, prompt_stride] int32, row b holding prompt_lengths[b] >= 1 real
 * tokens from its start. prompt + max_new_tokens must fit n_positions.
 * Records for every response token the token, its logprob under
 * logits / temperature (before top-k/top-p filtering; under raw logits when
 * greedy) and, with with_values, the value head's output: the rollout's
 * OLD_LOGPROBS and OLD_VALUES. Returns a new rollout (destroy it). */
R4J_API r4j_status r4j_generate(r4j_model *model, const int32_t *prompts,
                                const int32_t *prompt_lengths, int64_t prompt_stride,
                                int64_t batch, const r4j_generate_options *options,
                                r4j_rollout **out_rollout);

/* ------------------------------------------------------------------------ */
/* Feedback: reference log-probs, critic values, reward-model scores         */
/* ------------------------------------------------------------------------ */

#define R4J_SCORE_LOGPROBS 1 /* flags for r4j_rollout_score_policy */
#define R4J_SCORE_VALUES 2

/* Recomputes OLD_LOGPROBS (flag R4J_SCORE_LOGPROBS, under logits/temperature)
 * and/or OLD_VALUES (R4J_SCORE_VALUES; needs a value head) with one full
 * forward over query + response. This is the slow twin of what generation
 * records, and how a separate critic model fills OLD_VALUES. */
R4J_API r4j_status r4j_rollout_score_policy(r4j_model *model, r4j_rollout *rollout,
                                            double temperature, int32_t flags);

/* Fills REF_LOGPROBS from the frozen reference model (under
 * logits/temperature). When policy is not NULL it also fills FULL_KL, the
 * per-token KL(policy || ref) over the whole vocabulary; call it before the
 * policy is updated so policy is the old policy. */
R4J_API r4j_status r4j_rollout_score_ref(r4j_model *ref, r4j_model *policy_or_null,
                                         r4j_rollout *rollout, double temperature);

/* Fills SCORES with the reward head's output at each sample's last real
 * token (the last response token; the EOS token when one was generated). */
R4J_API r4j_status r4j_rollout_score_reward(r4j_model *reward_model, r4j_rollout *rollout);

/* ------------------------------------------------------------------------ */
/* PPO math                                                                  */
/* ------------------------------------------------------------------------ */

#define R4J_KL_K1 0   /* old_logprobs - ref_logprobs (the seed's estimator) */
#define R4J_KL_K3 1   /* (r - 1) - log r with r = p_ref / p_old (Schulman) */
#define R4J_KL_FULL 2 /* FULL_KL: exact KL over the vocabulary */

/* Defaults are the seed preset: k1, gamma = lambda = 1 (undiscounted
 * reward-to-go), no whitening, no ratio or value clipping, vf_coef 0.1. */
typedef struct r4j_ppo_options {
  int32_t kl_estimator;       /* R4J_KL_* */
  double score_clip;          /* clip scores to [-c, c]; 0 = off */
  int32_t missing_eos_penalty_on; /* replace the score when no EOS/stop came */
  double missing_eos_penalty;
  double gamma;               /* discount */
  double lam;                 /* GAE lambda; gamma = lam = 1 is the seed's reward-to-go */
  int32_t whiten_advantages;  /* masked whitening over the batch */
  int32_t clip_ratio;         /* clipped surrogate with cliprange */
  double cliprange;
  int32_t clip_value;         /* value clipping with cliprange_value */
  double cliprange_value;
  double vf_coef;             /* loss = pg_loss + vf_coef * vf_loss - ent_coef * entropy */
  double ent_coef;
  double temperature;         /* training log-probs under logits / temperature */
} r4j_ppo_options;

R4J_API r4j_status r4j_ppo_options_defaults(r4j_ppo_options *out);

typedef struct r4j_reward_stats {
  double kl;                /* objective/kl: mean over samples of sum_t KL_t */
  double non_score_reward;  /* mean over samples of sum_t -kl_coef * KL_t */
  double scores;            /* mean score after clipping/penalty/normalisation */
  double rlhf_reward;       /* scores + non_score_reward (+ TURN_REWARDS' mean sum) */
  double entropy;           /* mean over samples of sum_t -old_logprob_t */
  double response_length;   /* mean response length (tokens) */
  double eos_rate;          /* share of samples that ended with EOS/stop */
  int32_t non_finite;       /* 1 when a reward is NaN or Inf */
} r4j_reward_stats;

typedef struct r4j_advantage_stats {
  double returns_mean;
  double returns_var;
  double advantages_mean;   /* before whitening */
  double values_mean;
  double var_explained;     /* 1 - Var(returns - values) / Var(returns) */
  int32_t non_finite;
} r4j_advantage_stats;

typedef struct r4j_ppo_stats {
  double loss_policy;     /* pg_loss */
  double loss_value;      /* vf_loss (before vf_coef) */
  double loss_total;
  double entropy;         /* mean per-token entropy of the new policy */
  double approxkl;        /* 0.5 * mean((logp - old_logp)^2) */
  double policy_clipfrac; /* share of tokens where the clipped branch won */
  double ratio_mean;
  double ratio_var;
  double value_clipfrac;
  double vpred;           /* mean predicted value */
  int64_t n_tokens;       /* response tokens that counted */
  int32_t non_finite;     /* 1: the loss was NaN/Inf, nothing was accumulated */
} r4j_ppo_stats;

/* ------------------------------------------------------------------------ */
/* Supervised losses: SFT (causal LM) and reward modelling (Bradley-Terry)   */
/* ------------------------------------------------------------------------ */

/* Causal LM loss: mean over positions t with loss_mask[t] = 1 of
 * -log p(tokens[t] | tokens[<t]). With backward != 0 the gradient of
 * loss_scale * loss is accumulated. loss_mask [batch, seq_len] uint8. */
R4J_API r4j_status r4j_lm_loss(r4j_model *model, const int32_t *tokens,
                               const uint8_t *attention_mask, const uint8_t *loss_mask,
                               int64_t batch, int64_t seq_len, double loss_scale,
                               int32_t backward, double *out_loss, int64_t *out_tokens);

/* Pairwise loss -mean(log sigmoid(r_chosen - r_rejected)) over batch pairs;
 * each side [batch, seq_len] with its own attention mask. out_accuracy: the
 * share of pairs with r_chosen > r_rejected. */
R4J_API r4j_status r4j_rm_loss(r4j_model *model, const int32_t *chosen,
                               const uint8_t *chosen_mask, const int32_t *rejected,
                               const uint8_t *rejected_mask, int64_t batch, int64_t seq_len,
                               double loss_scale, int32_t backward, double *out_loss,
                               double *out_accuracy);

/* ------------------------------------------------------------------------ */
/* Optimizer: AdamW over one model's parameters                              */
/* ------------------------------------------------------------------------ */

typedef struct r4j_optimizer r4j_optimizer;

typedef struct r4j_adamw_options {
  double beta1;
  double beta2;
  double eps;
  double weight_decay;   /* decoupled; not applied to biases, norms and embeddings' positions */
  double max_grad_norm;  /* global L2 clip before the step; 0 = off */
} r4j_adamw_options;

R4J_API r4j_status r4j_adamw_options_defaults(r4j_adamw_options *out);

/* The optimizer refers to model: destroy it before the model. */
R4J_API r4j_status r4j_optimizer_create(r4j_model *model, const r4j_adamw_options *options,
                                        r4j_optimizer **out_optimizer);

R4J_API r4j_status r4j_optimizer_destroy(r4j_optimizer *optimizer);

typedef struct r4j_step_result {
  double grad_norm;   /* global L2 norm before clipping */
  int32_t skipped;    /* 1: gradients were non-finite, weights untouched */
  int64_t step;       /* optimizer steps taken so far */
} r4j_step_result;

/* Clips, then applies one AdamW step at learning rate lr, then zeroes the
 * gradients. Non-finite gradients skip the step (weights never become
 * non-finite) and are reported in out_result->skipped. */
R4J_API r4j_status r4j_optimizer_step(r4j_optimizer *optimizer, double lr,
                                      r4j_step_result *out_result);

/* Drops accumulated gradients without stepping. */
R4J_API r4j_status r4j_optimizer_zero_grad(r4j_optimizer *optimizer);

/* The optimizer's state as named tensors, for checkpoints: for each
 * parameter NAME, "NAME.exp_avg" and "NAME.exp_avg_sq" (F32), then "step"
 * (F64, shape [1]). Same calling conventions as the model's tensor functions. */
R4J_API r4j_status r4j_optimizer_tensor_count(const r4j_optimizer *optimizer, int64_t *out_count);

R4J_API r4j_status r4j_optimizer_tensor_info(const r4j_optimizer *optimizer, int64_t index,
                                             char *name_buf, size_t name_cap, int32_t *out_dtype,
                                             int32_t *out_ndim, int64_t *shape,
                                             int32_t shape_cap);

R4J_API r4j_status r4j_optimizer_read_tensor(const r4j_optimizer *optimizer, const char *name,
                                             int32_t dtype, void *dst, size_t dst_bytes);

R4J_API r4j_status r4j_optimizer_write_tensor(r4j_optimizer *optimizer, const char *name,
                                              int32_t dtype, const void *src, size_t src_bytes);

/* ------------------------------------------------------------------------ */
/* Algorithms beyond PPO: GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE++            */
/* ------------------------------------------------------------------------ */
/* The same three phases as PPO; an r4j_algo_options picks the advantage
 * estimator, where the KL goes, how per-token losses are aggregated, the
 * clipping and DAPO's shaping. PPO itself is r4j_algo_options_defaults:
 * r4j_ppo_rewards_ex, r4j_ppo_advantages_ex and r4j_ppo_accumulate_ex are the
 * one path of every algorithm (the _ex names stay so that a caller built
 * against ABI 3's plain functions fails to link instead of calling with the
 * wrong arguments). */

#define R4J_STRUCT_ALGO_OPTIONS 11
#define R4J_STRUCT_ALGO_LOSS_STATS 12
#define R4J_STRUCT_GROUP_STATS 13

/* More rollout fields (float; r4j_rollout_read / r4j_rollout_write). */
#define R4J_FIELD_GROUP_ID 20      /* float [B]: the group (prompt) of each sample, integral values; the
                                    * caller writes it (the group estimators require it) */
#define R4J_FIELD_LOSS_MASK 21     /* float [B, R]: 1 where a token counts in the loss (written by
                                    * r4j_ppo_rewards_ex: the response mask, 0 for truncated samples
                                    * when mask_truncated) */
#define R4J_FIELD_SCORES_SHAPED 22 /* float [B]: the score after normalisation, penalties, clipping and
                                    * overlong shaping, as put on the last token (r4j_ppo_rewards_ex) */
/* Multi-turn episodes: a response holds the policy's turns and, between them,
 * observation tokens (tool results, the template's glue) the policy did not
 * choose. ACTION_MASK (float [B, R], 0 or 1) is 1 on the tokens the policy
 * sampled; unwritten, every response token is one (and reads as the response
 * mask). Written, response mask * ACTION_MASK replaces the response mask in
 * KL, entropy, the score's position (the last action token), returns and
 * advantages (GAE and reward-to-go skip observation tokens: the recursion
 * passes through them), whitening, LOSS_MASK and every loss aggregation.
 * Every sample needs at least one action token.
 * TURN_REWARDS (float [B, R]) holds the environment's per-turn rewards, put
 * by the caller on each turn's last action token; r4j_ppo_rewards_ex adds
 * them to REWARDS (on action tokens only). */
#define R4J_FIELD_ACTION_MASK 23
#define R4J_FIELD_TURN_REWARDS 24
#define R4J_FIELD_SAMPLING_LOGPROBS 25 /* float [B, R]: the log-probs recorded while decoding, kept here by
                                        * the first forward pass that replaces OLD_LOGPROBS (bf16/f16
                                        * generation's own pass, r4j_rollout_score_policy with
                                        * R4J_SCORE_LOGPROBS); absent while OLD_LOGPROBS are still those */
#define R4J_FIELD_POLICY_LOSS_WEIGHTS 26 /* float [B, R]: when written, multiplies each token's policy loss
                                          * in r4j_ppo_accumulate* (the rollout correction's importance
                                          * weights, TRL's vllm_importance_sampling); absent = 1 */

#define R4J_ESTIMATOR_GAE 0                   /* PPO: GAE(gamma, lambda) with the critic */
#define R4J_ESTIMATOR_GRPO 1                  /* (r - mean_group) / (std_group + 1e-4) */
#define R4J_ESTIMATOR_RLOO 2                  /* r - mean of the other samples of the group */
#define R4J_ESTIMATOR_REINFORCE_PP 3          /* reward-to-go of per-token rewards, whitened */
#define R4J_ESTIMATOR_REINFORCE_PP_BASELINE 4 /* as REINFORCE_PP, group mean score subtracted */

#define R4J_SCALE_GROUP 0 /* GRPO's divisor: the group's std */
#define R4J_SCALE_BATCH 1 /* the whole batch's std (all ranks) */
#define R4J_SCALE_NONE 2  /* no division (Dr. GRPO) */

#define R4J_KL_IN_REWARD 0 /* -kl_coef * KL per token in the reward (PPO-RLHF) */
#define R4J_KL_IN_LOSS 1   /* kl_loss_coef * KL(pi || ref) per token added to the loss (GRPO) */
#define R4J_KL_IN_NONE 2

#define R4J_KL_LOSS_K1 0      /* logp - ref */
#define R4J_KL_LOSS_K2 1      /* 0.5 * (logp - ref)^2 */
#define R4J_KL_LOSS_K3 2      /* exp(ref - logp) - (ref - logp) - 1 */
#define R4J_KL_LOSS_K3_PLUS 3 /* k3's value with k2's gradient */

#define R4J_LOSS_TOKEN_MEAN 0              /* sum over tokens / tokens */
#define R4J_LOSS_SEQ_MEAN_TOKEN_MEAN 1     /* mean over sequences of each one's token mean */
#define R4J_LOSS_SEQ_MEAN_TOKEN_SUM 2      /* mean over sequences of each one's token sum */
#define R4J_LOSS_SEQ_MEAN_TOKEN_SUM_NORM 3 /* ... divided by max_new_tokens (Dr. GRPO) */

#define R4J_IS_TOKEN 0    /* per-token ratio exp(logp - old_logp) (PPO) */
#define R4J_IS_SEQUENCE 1 /* per-sequence ratio exp(mean_t (logp - old_logp)) (GSPO) */

typedef struct r4j_algo_options {
  int32_t estimator;          /* R4J_ESTIMATOR_* */
  int32_t scale_rewards;      /* R4J_SCALE_* (GRPO) */
  int32_t kl_in;              /* R4J_KL_IN_* */
  int32_t kl_loss_estimator;  /* R4J_KL_LOSS_* (kl_in = LOSS) */
  double kl_loss_coef;        /* beta of the KL loss term */
  int32_t loss_agg;           /* R4J_LOSS_* over one micro-batch (see r4j_ppo_accumulate_ex) */
  int64_t max_new_tokens;     /* L_max: SEQ_MEAN_TOKEN_SUM_NORM's divisor and the overlong buffer's end */
  double cliprange_low;       /* ratio clipped to [1 - low, 1 + high]; 0 = r4j_ppo_options.cliprange */
  double cliprange_high;
  double dual_clip;           /* c > 1: the loss of a negative advantage is at most -A * c; 0 = off */
  int32_t importance_sampling; /* R4J_IS_* */
  int32_t mask_truncated;     /* samples without EOS/stop count in no loss (DAPO) */
  int64_t overlong_buffer_len; /* L_buf of DAPO's soft overlong punishment; 0 = off */
  double overlong_penalty_factor;
} r4j_algo_options;

/* GAE, KL in the reward, token mean, symmetric clip from r4j_ppo_options,
 * no dual clip, token ratios, nothing masked or shaped. */
R4J_API r4j_status r4j_algo_options_defaults(r4j_algo_options *out);

/* Checks the options as every r4j_ppo_*_ex call does first, without a rollout:
 * R4J_ERR_INVALID_ARGUMENT naming the field and its bound (an unknown
 * estimator or importance_sampling named with its value), else R4J_OK. A
 * binding can check a configuration before it loads any model. */
R4J_API r4j_status r4j_ppo_validate(const r4j_ppo_options *options, const r4j_algo_options *algo);

/* A new rollout of chosen rows of one or more rollouts (all on one device, with
 * one pad id; no handle twice): row i of the result is row row_in_part[i] of
 * parts[part_of_row[i]]. Every field is copied (a float field when every part
 * has it), prompts left- and responses right-padded to the longest picked.
 * DAPO's dynamic sampling assembles its batch from several sampling rounds so.
 * The parts are unchanged; destroy the result with r4j_rollout_destroy. */
R4J_API r4j_status r4j_rollout_gather(const r4j_rollout *const *parts, int32_t n_parts,
                                      const int64_t *part_of_row, const int64_t *row_in_part, int64_t n,
                                      r4j_rollout **out_rollout);

/* Feedback: KL[t] with the chosen estimator (options->kl_estimator), then
 *   rewards[t] = -kl_coef * KL[t] (+ score on the last response token),
 * where score = clip((SCORES - score_shift) / score_scale) after the
 * missing-EOS rule; score_scale must be > 0. Writes KL and REWARDS, and:
 *  - score += min(-(|y| - (L_max - L_buf)) / L_buf, 0) * overlong_penalty_factor
 *    (after clipping) when overlong_buffer_len > 0;
 *  - the -kl_coef * KL term only when kl_in = R4J_KL_IN_REWARD (KL is written
 *    either way, for metrics);
 *  - LOSS_MASK and SCORES_SHAPED written. */
R4J_API r4j_status r4j_ppo_rewards_ex(r4j_rollout *rollout, const r4j_ppo_options *options,
                                      const r4j_algo_options *algo, double kl_coef, double score_shift,
                                      double score_scale, r4j_reward_stats *out_stats);

typedef struct r4j_group_stats {
  int64_t groups;               /* groups in the rollout (0 for GAE and REINFORCE_PP) */
  int64_t zero_variance_groups; /* groups whose rewards are all equal (advantage 0) */
  double seq_reward_mean;       /* mean over samples of the sequence reward the estimator used */
  double seq_reward_std;        /* its std over the whole batch (Bessel) */
} r4j_group_stats;

/* Returns and advantages by the chosen estimator (formulas in
 * ppo/advantages.cpp). GAE(gamma, lambda) from REWARDS and OLD_VALUES:
 *   delta[t] = r[t] + gamma * V[t+1] - V[t],  A[t] = delta[t] + gamma*lam*A[t+1],
 *   returns[t] = A[t] + V[t]  (V past the last token is 0);
 * gamma = lam = 1 is the seed's returns[t] = sum_{j>=t} r[j], A = returns - V.
 * Writes RETURNS, ADVANTAGES and ADVANTAGES_WHITENED (= ADVANTAGES when
 * whitening is off). The critic-free estimators use
 * the sequence reward r = sum_t REWARDS[t]. A sequence-level advantage is
 * put on every response token; a group whose rewards are all equal gets 0.
 * GRPO and RLOO write RETURNS = ADVANTAGES; REINFORCE_PP* write the
 * reward-to-go and whiten over the batch's loss tokens. Group estimators need
 * GROUP_ID (and RLOO two samples per group). out_group_stats may be NULL. */
R4J_API r4j_status r4j_ppo_advantages_ex(r4j_rollout *rollout, const r4j_ppo_options *options,
                                         const r4j_algo_options *algo, r4j_advantage_stats *out_stats,
                                         r4j_group_stats *out_group_stats);

typedef struct r4j_algo_loss_stats {
  double kl_loss;           /* the aggregated KL term (before kl_loss_coef); 0 unless kl_in = LOSS */
  double dual_clipfrac;     /* share of tokens where the dual clip's bound won */
  int64_t n_sequences;      /* samples with at least one loss token */
} r4j_algo_loss_stats;

/* Learning, one micro-batch: forward the actor (and the critic: the actor's
 * value head when critic_or_null is NULL) over the rollout samples listed in
 * indices[0..n), and accumulate the gradients of loss_scale * loss into the
 * models' parameters (the optimizers step them; advantages take no gradient).
 * Per token:
 *   ratio     = exp(logp - old_logp)   (IS_SEQUENCE: exp of the sequence's mean)
 *   pg_loss_t = -A*ratio                                       (the seed)
 *             = max(-A*ratio, -A*clip(ratio, 1-low, 1+high))  (clip_ratio)
 *               then min(., -A*dual_clip) where A < 0           (dual_clip)
 *   loss_t    = pg_loss_t + kl_loss_coef * KL_t                 (kl_in = LOSS)
 * aggregated over the micro-batch's LOSS_MASK tokens by loss_agg (a mean over
 * its tokens, or over its samples), plus vf_coef * vf_loss (GAE only; critic-
 * free estimators need no value head and take no critic) - ent_coef * entropy,
 * with vf_loss = masked_mean((V - returns)^2) (max with the clipped form when
 * clip_value).
 * Callers reach a minibatch-wide mean by loss_scale = this micro-batch's
 * share (tokens or samples) of the minibatch. */
R4J_API r4j_status r4j_ppo_accumulate_ex(r4j_model *actor, r4j_model *critic_or_null,
                                         r4j_rollout *rollout, const int64_t *indices, int64_t n,
                                         const r4j_ppo_options *options, const r4j_algo_options *algo,
                                         double loss_scale, r4j_ppo_stats *out_stats,
                                         r4j_algo_loss_stats *out_algo_stats);

/* The token positions r4j_ppo_accumulate_ex runs over the samples indices[0..n)
 * with this actor, padding included: each pass over rows of like length is padded
 * to its rows' longest prompt + longest response (at least one response column),
 * and the micro-batch is cut into such passes where that saves more padding than
 * a pass costs at the actor's width. With the samples' real tokens it gives the
 * share of the learning passes' positions that are padding. */
R4J_API r4j_status r4j_ppo_micro_batch_positions(r4j_model *actor, r4j_rollout *rollout, const int64_t *indices,
                                                 int64_t n, int64_t *out_positions);

/* ------------------------------------------------------------------------ */
/* Data parallelism: a c10d process group (TCPStore + Gloo, NCCL on CUDA)    */
/* ------------------------------------------------------------------------ */

/* One process group per process, as torch.distributed's default group. While
 * it is active (world_size > 1):
 *  - r4j_optimizer_step first averages the accumulated gradients over ranks
 *    (flattened buckets of ~25 MB; parameters without a gradient on any rank
 *    are left out, a rank without one contributes zeros), so clipping and the
 *    non-finite skip see the global gradient and every rank skips together;
 *  - batch statistics the native math decides from (advantage whitening's
 *    mean and variance) are summed over ranks.
 * Every rank must issue the same collectives in the same order. A lost peer
 * or an unreachable store fails the call within timeout_ms with
 * R4J_ERR_RUNTIME and a message naming the lost rank when it can be known;
 * the group then stays failed (every later collective repeats the message). */

#define R4J_DIST_GLOO 0 /* CPU tensors over TCP */
#define R4J_DIST_NCCL 1 /* CUDA builds with NCCL: tensors on cuda:local_rank (Gloo still carries host buffers) */

/* torchrun's contract: the caller reads RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE and
 * TORCHELASTIC_RESTART_COUNT (or Slurm's equivalents) and passes them here. */
typedef struct r4j_dist_options {
  int32_t rank;
  int32_t world_size;
  int32_t local_rank;
  int32_t local_world_size;
  int32_t master_port;
  int32_t use_agent_store; /* 1: torchrun's agent hosts the store; every rank is a client */
  int32_t restart_count;   /* keys live under /worker/attempt_<n>, as torchrun's */
  int32_t backend;         /* R4J_DIST_* */
  int64_t timeout_ms;      /* rendezvous and every collective; > 0 */
} r4j_dist_options;

#define R4J_STRUCT_DIST_OPTIONS 9
#define R4J_STRUCT_DIST_COUNTERS 10

/* Defaults: a single process (rank 0 of 1), port 29500, Gloo, 10 minutes. */
R4J_API r4j_status r4j_dist_options_defaults(r4j_dist_options *out);

/* Joins the process group: rank 0 hosts a TCPStore at master_addr:master_port
 * (unless the agent's store is used), then all ranks rendezvous. Fails within
 * timeout_ms when the port is in use, the master is unreachable or a rank
 * does not come. master_addr is copied. A second init without shutdown fails. */
R4J_API r4j_status r4j_dist_init(const char *master_addr, const r4j_dist_options *options);

/* Leaves the group; a no-op when none is active. */
R4J_API r4j_status r4j_dist_shutdown(void);

/* This process's rank and the world size (0 and 1 without a group). */
R4J_API r4j_status r4j_dist_info(int32_t *out_rank, int32_t *out_world_size);

#define R4J_REDUCE_SUM 0
#define R4J_REDUCE_MAX 1
#define R4J_REDUCE_MIN 2

/* Reduces buf[0..n) (dtype R4J_DTYPE_F64 or R4J_DTYPE_I64) element-wise over
 * all ranks with op (R4J_REDUCE_*), in place; unchanged without a group.
 * For the caller's statistics: counts, sums, flags. */
R4J_API r4j_status r4j_dist_all_reduce(int32_t dtype, void *buf, int64_t n, int32_t op);

/* Every rank's model takes root's parameters (same architecture required). */
R4J_API r4j_status r4j_dist_broadcast_model(r4j_model *model, int32_t root);

/* Returns when every rank has called it (within the timeout). */
R4J_API r4j_status r4j_dist_barrier(void);

/* A 64-bit hash of the exact bytes of the model's parameters in order:
 * equal on two ranks exactly when their weights are bitwise equal (up to
 * hash collisions). For the divergence check at checkpoints. */
R4J_API r4j_status r4j_model_checksum(const r4j_model *model, int64_t *out_checksum);

typedef struct r4j_dist_counters {
  double allreduce_seconds; /* wall time inside all-reduces since init */
  int64_t allreduce_bytes;  /* payload bytes this rank entered into all-reduces */
  int64_t allreduce_calls;
} r4j_dist_counters;

/* Totals since r4j_dist_init (zeros without a group). */
R4J_API r4j_status r4j_dist_counters_read(r4j_dist_counters *out);

/* r4j_generate with per-sample randomness: row b's uniforms come from
 * row_seeds[b] (and the decoding step) alone, never from the batch, so a
 * sample is the same whatever batch or rank it is generated in.
 * options->seed is ignored; row_seeds holds batch values, not kept. */
R4J_API r4j_status r4j_generate_seeded(r4j_model *model, const int32_t *prompts,
                                       const int32_t *prompt_lengths, int64_t prompt_stride,
                                       int64_t batch, const r4j_generate_options *options,
                                       const uint64_t *row_seeds, r4j_rollout **out_rollout);

/* ------------------------------------------------------------------------ */
/* bf16 and benchmarks                                                       */
/* ------------------------------------------------------------------------ */

/* This machine's matrix-multiply rate for dtype (R4J_DTYPE_F32 or
 * R4J_DTYPE_BF16) on device: the best over the paths the library uses for
 * that dtype (ATen's matmul: OpenBLAS, oneDNN via ideep, cuBLAS; oneDNN's
 * matmul directly in CPU builds with it), each the best of `iterations` timed
 * n x n x n products after a warm-up; a path too slow for n (a reference
 * implementation) is timed at a smaller n. *out_gflops: the best rate. buf
 * (capacity cap bytes, NUL included; may be NULL with cap 0) receives JSON:
 *   {"gflops","best","paths":[{"name","gflops","n","note"}],"read_gbps"}
 * ("read_gbps": the CPU's memory read rate in GB/s, the bound of a decoding
 * step; 0 on other devices) and *out_needed its size (NUL included), also when R4J_ERR_BUFFER_TOO_SMALL
 * is returned (the rate is written either way). */
/* r4j_build_info's JSON also carries "decode_kernel" (the few-row float32
 * kernel generation uses on this CPU: "avx512", "avx2", or "none": oneDNN's
 * blocked layout or ATen then),
 * "bf16_decode_kernel" (the few-row bf16
 * kernel generation uses on this CPU: "avx512bf16", "avx2" or "plain") and
 * "bf16_matmul" (how bf16 products of many rows run: "aten (onednn bf16)" or
 * "float32 copies" on CPUs without oneDNN's bf16 kernels). */

R4J_API r4j_status r4j_gemm_rate(const char *device, int32_t dtype, int64_t n, int32_t iterations,
                                 double *out_gflops, char *buf, size_t cap, size_t *out_needed);

/* Benchmarks only (random weights never choose EOS): from now on, row b of
 * every generation in this process stops after lengths[b % n] tokens (each
 * >= 1) as if it had produced EOS there (ENDED = 1), unless EOS, a stop token
 * or max_new_tokens comes first; a ragged workload of forced lengths. The
 * lengths are copied. n = 0 (lengths may be NULL) turns it off, the default. */
R4J_API r4j_status r4j_bench_force_lengths(const int32_t *lengths, int64_t n);

/* ------------------------------------------------------------------------ */
/* Memory: chunked log-probs and attention, activation checkpointing        */
/* ------------------------------------------------------------------------ */

/* How a model's scoring and training passes trade time for memory. Set per
 * model; generation is unaffected. */
typedef struct r4j_memory_options {
  /* Rows per chunk of LM-head logits: log-probs and entropies (forward and
   * backward: a chunk's logits are recomputed there) never hold more than
   * logits_chunk x vocab logits at once. 0 = the whole [B, T, V] at once. */
  int64_t logits_chunk;
  /* 1: each transformer block keeps only its input in a pass that records
   * gradients and is run again in backward (dropout masks replayed), so the
   * gradients are those of the plain pass. */
  int32_t gradient_checkpointing;
} r4j_memory_options;

#define R4J_STRUCT_MEMORY_OPTIONS 14

/* logits_chunk 256, gradient_checkpointing 0: what a new model starts with. */
R4J_API r4j_status r4j_memory_options_defaults(r4j_memory_options *out);

/* Sets / reads a model's memory options (logits_chunk >= 0,
 * gradient_checkpointing 0 or 1). */
R4J_API r4j_status r4j_model_set_memory_options(r4j_model *model, const r4j_memory_options *options);
R4J_API r4j_status r4j_model_get_memory_options(const r4j_model *model, r4j_memory_options *out);

/* Query rows per chunk of attention in a model's scoring and training passes
 * (any pass over more than `rows` query positions, with or without
 * gradients): softmax(q k^T / sqrt(hd) + bias) v runs `rows` queries at a
 * time and backward recomputes a chunk's probabilities from the kept
 * per-row logsumexp, so no [batch, heads, T, S] scores exist beyond one
 * chunk's [batch, heads, rows, S]. rows >= 0; 0 = the whole matrix at once.
 * A new model starts with 128. Passes with attention dropout, decoding steps
 * (one query) and libtorch 2.x CUDA builds (fused kernels) are unaffected.
 * Negative rows: R4J_ERR_INVALID_ARGUMENT, the setting unchanged. */
R4J_API r4j_status r4j_model_set_attention_chunk(r4j_model *model, int64_t rows);
R4J_API r4j_status r4j_model_get_attention_chunk(const r4j_model *model, int64_t *out);

/* ---- LoRA adapters (Hu et al. 2021) --------------------------------------
 * W x + scale * B A dropout(x) on the chosen projections, A [r, in] (random),
 * B [out, r] (zeros), scale = alpha / r (alpha / sqrt(r) with use_rslora).
 * Adapters are named tensors of the model, with PEFT's names:
 * "base_model.model.<module path>.lora_A.weight" and ".lora_B.weight". */

#define R4J_LORA_C_ATTN (1 << 0)      /* GPT-2 attn.c_attn */
#define R4J_LORA_ATTN_C_PROJ (1 << 1) /* GPT-2 attn.c_proj */
#define R4J_LORA_C_FC (1 << 2)        /* GPT-2 mlp.c_fc */
#define R4J_LORA_MLP_C_PROJ (1 << 3)  /* GPT-2 mlp.c_proj */
#define R4J_LORA_Q_PROJ (1 << 4)      /* Llama self_attn.q_proj */
#define R4J_LORA_K_PROJ (1 << 5)
#define R4J_LORA_V_PROJ (1 << 6)
#define R4J_LORA_O_PROJ (1 << 7)
#define R4J_LORA_GATE_PROJ (1 << 8)   /* Llama mlp.gate_proj */
#define R4J_LORA_UP_PROJ (1 << 9)
#define R4J_LORA_DOWN_PROJ (1 << 10)

typedef struct r4j_lora_options {
  int64_t r;              /* rank, >= 1 */
  double alpha;           /* lora_alpha, > 0 */
  double dropout;         /* lora_dropout on the adapter's input in training passes, [0, 1) */
  int32_t target_modules; /* R4J_LORA_* bits of the model's architecture; 0 = all of them */
  int32_t use_rslora;     /* scale alpha / sqrt(r) instead of alpha / r */
  uint64_t seed;          /* init of lora_A */
} r4j_lora_options;

#define R4J_STRUCT_LORA_OPTIONS 15

/* PEFT's defaults: r 8, alpha 8, dropout 0, every projection, no rsLoRA, seed 0. */
R4J_API r4j_status r4j_lora_options_defaults(r4j_lora_options *out);

/* Adds adapters to model (which must have none) and freezes every base
 * weight: only the adapters and the value / reward heads take gradients,
 * and an optimizer created afterwards holds only those. */
R4J_API r4j_status r4j_model_add_lora(r4j_model *model, const r4j_lora_options *options);

/* Writes whether model has adapters (*out_has) and, when it has, their options. */
R4J_API r4j_status r4j_model_get_lora(const r4j_model *model, int32_t *out_has, r4j_lora_options *out);

/* enabled = 0: passes run the base model alone (the frozen reference of a
 * LoRA policy, with no second copy of the weights); 1: with adapters. */
R4J_API r4j_status r4j_model_set_adapters_enabled(r4j_model *model, int32_t enabled);

/* Folds scale * B A into the base weights, removes the adapters and
 * unfreezes the base: a plain model with the same outputs. */
R4J_API r4j_status r4j_model_merge_lora(r4j_model *model);

/* r4j_rollout_score_ref with the reference being policy's base (adapters
 * off): fills REF_LOGPROBS and, with full_kl != 0, FULL_KL against the policy
 * with its adapters. */
R4J_API r4j_status r4j_rollout_score_ref_base(r4j_model *policy, r4j_rollout *rollout, double temperature,
                                              int32_t full_kl);

/* One frozen base for two LoRA models (a PPO policy and its separate critic
 * made from the same checkpoint): model drops its own copy of every base
 * parameter that is frozen in both models and equal in name, shape, dtype,
 * device and value, and uses from's tensor instead. Adapters, heads and every
 * trainable tensor stay model's own. The shared tensors are reference-counted:
 * either model may be destroyed first, the other keeps them. Checks come first
 * and nothing is shared on an error: a tensor that is missing, trainable or
 * different in from fails naming it (R4J_ERR_INVALID_ARGUMENT), as do model ==
 * from and a model without frozen base tensors. Freed copies go back to the
 * system (not to the CPU block cache). Afterwards writing different values
 * into a shared tensor (r4j_model_write_tensor) fails (it would change both
 * models; equal values are accepted and write nothing) and
 * r4j_model_merge_lora refuses either model. *out_bytes (may be NULL): bytes
 * of model's parameters now held by from's tensors. */
R4J_API r4j_status r4j_model_share_base(r4j_model *model, const r4j_model *from, int64_t *out_bytes);

/* Bytes of model's parameters that r4j_model_share_base made it take from
 * another model (0 when it shares nothing). */
R4J_API r4j_status r4j_model_shared_base_bytes(const r4j_model *model, int64_t *out_bytes);

/* ------------------------------------------------------------------------ */
/* Offline preferences: DPO and its family (TRL's definitions)               */
/* ------------------------------------------------------------------------ */

/* Per row of tokens [rows, seq_len]: log p(tokens[t] | tokens[<t]) summed over
 * the completion positions t >= 1 (loss_mask[t] = 1 and attention_mask[t] = 1)
 * into out_logps [rows], their count into out_tokens [rows], and the sum over
 * those positions of the mean logit over the vocabulary into out_logit_sums
 * [rows] (may be NULL). No gradient: the reference's pass (with a LoRA
 * policy, r4j_model_set_adapters_enabled(model, 0) first). Capacity: rows each. */
R4J_API r4j_status r4j_sequence_logps(r4j_model *model, const int32_t *tokens, const uint8_t *attention_mask,
                                      const uint8_t *loss_mask, int64_t rows, int64_t seq_len,
                                      double *out_logps, int64_t *out_tokens, double *out_logit_sums,
                                      size_t cap);

/* Losses, with Delta = (pi_c - ref_c) - (pi_r - ref_r) over summed log-probs:
 *   SIGMOID  -log sigma(beta Delta)                         (DPO); with label_smoothing
 *            eps > 0, -(1-eps) log sigma(beta Delta) - eps log sigma(-beta Delta) (cDPO)
 *   ROBUST   [-(1-eps) log sigma(beta Delta) + eps log sigma(-beta Delta)] / (1 - 2 eps)
 *   IPO      (Delta_c / len_c - Delta_r / len_r - 1 / (2 beta))^2
 *   HINGE    max(0, 1 - beta Delta)
 *   SIMPO    -log sigma(beta (pi_c / len_c - pi_r / len_r) - gamma)   (no reference) */
#define R4J_DPO_SIGMOID 0
#define R4J_DPO_ROBUST 1
#define R4J_DPO_IPO 2
#define R4J_DPO_HINGE 3
#define R4J_DPO_SIMPO 4

#define R4J_DPO_MAX_LOSSES 8

typedef struct r4j_dpo_options {
  int32_t n_losses;                             /* losses in use, [1, R4J_DPO_MAX_LOSSES] */
  int32_t loss_types[R4J_DPO_MAX_LOSSES];       /* R4J_DPO_* */
  double loss_weights[R4J_DPO_MAX_LOSSES];      /* loss = sum_k w_k mean over pairs of loss_k */
  double beta;                                  /* > 0 */
  double label_smoothing;                       /* eps of SIGMOID (cDPO) and ROBUST, [0, 0.5) */
  double simpo_gamma;                           /* gamma of SIMPO */
  double rpo_alpha;                             /* >= 0: adds alpha * NLL per chosen completion token (RPO) */
} r4j_dpo_options;

/* Sums over a micro-batch's pairs (divide by pairs, or by the token counts
 * for logits_*), so that micro-batches and ranks add up exactly. */
typedef struct r4j_dpo_stats {
  double loss;             /* the micro-batch's loss (a mean over its pairs) */
  double chosen_rewards;   /* sum of beta (pi_c - ref_c); without a reference beta pi_c / len_c */
  double rejected_rewards; /* the same for the rejected completions */
  double accuracies;       /* pairs whose chosen reward exceeds the rejected one */
  double margins;          /* sum of chosen reward - rejected reward */
  double logps_chosen;     /* sum of pi_c */
  double logps_rejected;   /* sum of pi_r */
  double logits_chosen;    /* sum over chosen completion tokens of the mean logit */
  double logits_rejected;
  int64_t tokens_chosen;   /* completion tokens */
  int64_t tokens_rejected;
  int64_t num_tokens;      /* real tokens of both sides (attention mask) */
  double nll;              /* mean NLL per chosen completion token */
  int64_t pairs;
} r4j_dpo_stats;

#define R4J_STRUCT_DPO_OPTIONS 16
#define R4J_STRUCT_DPO_STATS 17

/* sigmoid alone, weight 1, beta 0.1, label_smoothing 0, simpo_gamma 0.5, rpo_alpha 0. */
R4J_API r4j_status r4j_dpo_options_defaults(r4j_dpo_options *out);

/* The loss of pairs: tokens, attention_mask and loss_mask are [2 * pairs,
 * seq_len], the pairs' chosen sequences then their rejected ones, scored in one
 * forward pass. ref_logps [2 * pairs] in the same order (the reference's
 * r4j_sequence_logps), or NULL when no loss needs a reference. With backward
 * != 0 the gradient of loss_scale * loss is accumulated. out_logps (may be
 * NULL, capacity logps_cap >= 2 * pairs) receives the policy's summed
 * log-probs. Every completion needs at least one token. */
R4J_API r4j_status r4j_dpo_loss(r4j_model *model, const int32_t *tokens, const uint8_t *attention_mask,
                                const uint8_t *loss_mask, int64_t pairs, int64_t seq_len,
                                const double *ref_logps, const r4j_dpo_options *options, double loss_scale,
                                int32_t backward, r4j_dpo_stats *out_stats, double *out_logps,
                                size_t logps_cap);

#ifdef __cplusplus
}
#endif

#endif /* RLHF4J_H */
