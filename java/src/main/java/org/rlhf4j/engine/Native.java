package org.rlhf4j.engine;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Java mirror of {@code native/include/rlhf4j.h}: one downcall per C function, in the
 * header's order, written by hand (jextract cannot be installed here). Pointers are
 * {@link MemorySegment}s; {@code int32_t} is int; {@code int64_t}, {@code uint64_t} and
 * {@code size_t} are long. Each method throws {@link NativeException} with the native
 * message when the call returns a non-zero status. {@code HeaderBindingTest} parses the
 * header and fails when a function and its binding disagree.
 *
 * <p>Thread-safety: the methods themselves hold no state; the native library rejects
 * concurrent use of one handle (status BUSY).
 */
public final class Native {
  /** Every bound function: its C name and descriptor (return type r4j_status). */
  static final Map<String, FunctionDescriptor> FUNCTIONS = new LinkedHashMap<>();

  private static String fn(String name, MemoryLayout... args) {
    FUNCTIONS.put(name, FunctionDescriptor.of(JAVA_INT, args));
    return name;
  }

  /** {@code const char *r4j_last_error(void)}: bound separately, it returns a pointer. */
  static final String LAST_ERROR = "r4j_last_error";

  private static final String ABI_VERSION = fn("r4j_abi_version", ADDRESS);
  private static final String BUILD_INFO = fn("r4j_build_info", ADDRESS, JAVA_LONG, ADDRESS);
  private static final String SET_NUM_THREADS = fn("r4j_set_num_threads", JAVA_INT);
  private static final String RELEASE_CACHED_MEMORY = fn("r4j_release_cached_memory");
  private static final String MANUAL_SEED = fn("r4j_manual_seed", JAVA_LONG);
  private static final String GEMM_GFLOPS = fn("r4j_gemm_gflops", ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS);
  private static final String STRUCT_SIZE = fn("r4j_struct_size", JAVA_INT, ADDRESS);
  private static final String BENCH_FORCE_LENGTHS = fn("r4j_bench_force_lengths", ADDRESS, JAVA_LONG);
  private static final String GEMM_RATE = fn("r4j_gemm_rate", ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
  private static final String MODEL_CONFIG_DEFAULTS = fn("r4j_model_config_defaults", ADDRESS);
  private static final String MODEL_CREATE = fn("r4j_model_create", ADDRESS, ADDRESS, ADDRESS);
  private static final String MODEL_DESTROY = fn("r4j_model_destroy", ADDRESS);
  private static final String MODEL_GET_CONFIG = fn("r4j_model_get_config", ADDRESS, ADDRESS);
  private static final String MODEL_TENSOR_COUNT = fn("r4j_model_tensor_count", ADDRESS, ADDRESS);
  private static final String MODEL_TENSOR_INFO = fn("r4j_model_tensor_info", ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_INT);
  private static final String MODEL_READ_TENSOR = fn("r4j_model_read_tensor", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final String MODEL_WRITE_TENSOR = fn("r4j_model_write_tensor", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final String MODEL_COPY_WEIGHTS = fn("r4j_model_copy_weights", ADDRESS, ADDRESS);
  private static final String MODEL_SET_TRAINING = fn("r4j_model_set_training", ADDRESS, JAVA_INT);
  private static final String MODEL_LOGITS = fn("r4j_model_logits", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG);
  private static final String MODEL_SCORE = fn("r4j_model_score", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_DOUBLE, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG);
  private static final String MODEL_REWARD = fn("r4j_model_reward", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG);
  private static final String ROLLOUT_CREATE = fn("r4j_rollout_create", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS);
  private static final String ROLLOUT_DESTROY = fn("r4j_rollout_destroy", ADDRESS);
  private static final String ROLLOUT_SHAPE = fn("r4j_rollout_shape", ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final String ROLLOUT_READ = fn("r4j_rollout_read", ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final String ROLLOUT_WRITE = fn("r4j_rollout_write", ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final String GENERATE_OPTIONS_DEFAULTS = fn("r4j_generate_options_defaults", ADDRESS);
  private static final String GENERATE = fn("r4j_generate", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS);
  private static final String ROLLOUT_SCORE_POLICY = fn("r4j_rollout_score_policy", ADDRESS, ADDRESS, JAVA_DOUBLE, JAVA_INT);
  private static final String ROLLOUT_SCORE_REF = fn("r4j_rollout_score_ref", ADDRESS, ADDRESS, ADDRESS, JAVA_DOUBLE);
  private static final String ROLLOUT_SCORE_REWARD = fn("r4j_rollout_score_reward", ADDRESS, ADDRESS);
  private static final String PPO_OPTIONS_DEFAULTS = fn("r4j_ppo_options_defaults", ADDRESS);
  private static final String LM_LOSS = fn("r4j_lm_loss", ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_DOUBLE, JAVA_INT, ADDRESS, ADDRESS);
  private static final String RM_LOSS = fn("r4j_rm_loss", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_DOUBLE, JAVA_INT, ADDRESS, ADDRESS);
  private static final String ADAMW_OPTIONS_DEFAULTS = fn("r4j_adamw_options_defaults", ADDRESS);
  private static final String OPTIMIZER_CREATE = fn("r4j_optimizer_create", ADDRESS, ADDRESS, ADDRESS);
  private static final String OPTIMIZER_DESTROY = fn("r4j_optimizer_destroy", ADDRESS);
  private static final String OPTIMIZER_STEP = fn("r4j_optimizer_step", ADDRESS, JAVA_DOUBLE, ADDRESS);
  private static final String OPTIMIZER_ZERO_GRAD = fn("r4j_optimizer_zero_grad", ADDRESS);
  private static final String OPTIMIZER_TENSOR_COUNT = fn("r4j_optimizer_tensor_count", ADDRESS, ADDRESS);
  private static final String OPTIMIZER_TENSOR_INFO = fn("r4j_optimizer_tensor_info", ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_INT);
  private static final String OPTIMIZER_READ_TENSOR = fn("r4j_optimizer_read_tensor", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final String OPTIMIZER_WRITE_TENSOR = fn("r4j_optimizer_write_tensor", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  // Algorithms beyond PPO
  private static final String ROLLOUT_GATHER = fn("r4j_rollout_gather", ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
  private static final String ALGO_OPTIONS_DEFAULTS = fn("r4j_algo_options_defaults", ADDRESS);
  private static final String PPO_VALIDATE = fn("r4j_ppo_validate", ADDRESS, ADDRESS);
  private static final String PPO_REWARDS_EX = fn("r4j_ppo_rewards_ex", ADDRESS, ADDRESS, ADDRESS, JAVA_DOUBLE, JAVA_DOUBLE, JAVA_DOUBLE, ADDRESS);
  private static final String PPO_ADVANTAGES_EX = fn("r4j_ppo_advantages_ex", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final String PPO_ACCUMULATE_EX = fn("r4j_ppo_accumulate_ex", ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_DOUBLE, ADDRESS, ADDRESS);
  private static final String PPO_MICRO_BATCH_POSITIONS = fn("r4j_ppo_micro_batch_positions", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
  // Data parallelism
  private static final String DIST_OPTIONS_DEFAULTS = fn("r4j_dist_options_defaults", ADDRESS);
  private static final String DIST_INIT = fn("r4j_dist_init", ADDRESS, ADDRESS);
  private static final String DIST_SHUTDOWN = fn("r4j_dist_shutdown");
  private static final String DIST_INFO = fn("r4j_dist_info", ADDRESS, ADDRESS);
  private static final String DIST_ALL_REDUCE = fn("r4j_dist_all_reduce", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final String DIST_BROADCAST_MODEL = fn("r4j_dist_broadcast_model", ADDRESS, JAVA_INT);
  private static final String DIST_BARRIER = fn("r4j_dist_barrier");
  private static final String MODEL_CHECKSUM = fn("r4j_model_checksum", ADDRESS, ADDRESS);
  private static final String DIST_COUNTERS_READ = fn("r4j_dist_counters_read", ADDRESS);
  private static final String GENERATE_SEEDED = fn("r4j_generate_seeded", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS);
  private static final String MEMORY_OPTIONS_DEFAULTS = fn("r4j_memory_options_defaults", ADDRESS);
  private static final String MODEL_SET_MEMORY_OPTIONS = fn("r4j_model_set_memory_options", ADDRESS, ADDRESS);
  private static final String MODEL_GET_MEMORY_OPTIONS = fn("r4j_model_get_memory_options", ADDRESS, ADDRESS);
  private static final String MODEL_SET_ATTENTION_CHUNK = fn("r4j_model_set_attention_chunk", ADDRESS, JAVA_LONG);
  private static final String MODEL_GET_ATTENTION_CHUNK = fn("r4j_model_get_attention_chunk", ADDRESS, ADDRESS);
  private static final String LORA_OPTIONS_DEFAULTS = fn("r4j_lora_options_defaults", ADDRESS);
  private static final String MODEL_ADD_LORA = fn("r4j_model_add_lora", ADDRESS, ADDRESS);
  private static final String MODEL_GET_LORA = fn("r4j_model_get_lora", ADDRESS, ADDRESS, ADDRESS);
  private static final String MODEL_SET_ADAPTERS_ENABLED = fn("r4j_model_set_adapters_enabled", ADDRESS, JAVA_INT);
  private static final String MODEL_MERGE_LORA = fn("r4j_model_merge_lora", ADDRESS);
  private static final String ROLLOUT_SCORE_REF_BASE = fn("r4j_rollout_score_ref_base", ADDRESS, ADDRESS, JAVA_DOUBLE, JAVA_INT);
  private static final String MODEL_SHARE_BASE = fn("r4j_model_share_base", ADDRESS, ADDRESS, ADDRESS);
  private static final String MODEL_SHARED_BASE_BYTES = fn("r4j_model_shared_base_bytes", ADDRESS, ADDRESS);
  private static final String SEQUENCE_LOGPS = fn("r4j_sequence_logps", ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG);
  private static final String DPO_OPTIONS_DEFAULTS = fn("r4j_dpo_options_defaults", ADDRESS);
  private static final String DPO_LOSS = fn("r4j_dpo_loss", ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_DOUBLE, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);

  private final Linker linker = Linker.nativeLinker();
  private final MethodHandle lastError;
  /** Every function of {@link #FUNCTIONS}, bound by name. */
  private final Map<String, MethodHandle> handles = new HashMap<>();

  Native(SymbolLookup lookup) {
    lastError = linker.downcallHandle(find(lookup, LAST_ERROR), FunctionDescriptor.of(ADDRESS));
    for (String name : FUNCTIONS.keySet()) handles.put(name, bind(lookup, name));
  }

  /** The names of every C function this class binds, r4j_last_error included. */
  public static Map<String, FunctionDescriptor> functions() {
    return Collections.unmodifiableMap(FUNCTIONS);
  }

  private static MemorySegment find(SymbolLookup lookup, String name) {
    return lookup.find(name).orElseThrow(() -> new NativeLibraryException(
        "the native library lacks " + name + ": it is older than this jar; rebuild it"));
  }

  private MethodHandle bind(SymbolLookup lookup, String name) {
    return linker.downcallHandle(find(lookup, name), FUNCTIONS.get(name));
  }

  /** The calling thread's last native error message. */
  public String lastError() {
    try {
      MemorySegment p = (MemorySegment) lastError.invokeExact();
      return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(65536).getString(0);
    } catch (Throwable t) {
      throw linkageFailure(LAST_ERROR, t);
    }
  }

  /** A call through the function's handle; returns its r4j_status. */
  @FunctionalInterface
  private interface Downcall {
    int invoke(MethodHandle h) throws Throwable;
  }

  /** The names of the functions called while recording (tests that compare code paths); null: off. */
  private static volatile Set<String> recorded;

  /** Starts recording the name of every function called through this class, from any thread. */
  public static void startRecording() {
    recorded = ConcurrentHashMap.newKeySet();
  }

  /** Stops recording; returns the names of the functions called since {@link #startRecording()}. */
  public static Set<String> stopRecording() {
    Set<String> names = recorded;
    recorded = null;
    return names == null ? Set.of() : Set.copyOf(names);
  }

  /** Runs one downcall and turns a non-zero status into a NativeException. */
  private void call(String function, Downcall downcall) {
    Set<String> names = recorded;
    if (names != null) names.add(function);
    int status;
    try {
      status = downcall.invoke(handles.get(function));
    } catch (Throwable t) {
      throw linkageFailure(function, t);
    }
    if (status != Status.OK) throw new NativeException(function, status, lastError());
  }

  private static RuntimeException linkageFailure(String function, Throwable t) {
    if (t instanceof RuntimeException r) return r;
    if (t instanceof Error e) throw e;
    return new IllegalStateException("calling " + function + " failed: " + t, t);
  }

  public void abiVersion(MemorySegment outVersion) { call(ABI_VERSION, h -> (int) h.invokeExact(outVersion)); }

  public void buildInfo(MemorySegment buf, long cap, MemorySegment outNeeded) { call(BUILD_INFO, h -> (int) h.invokeExact(buf, cap, outNeeded)); }

  public void setNumThreads(int n) { call(SET_NUM_THREADS, h -> (int) h.invokeExact(n)); }

  public void releaseCachedMemory() { call(RELEASE_CACHED_MEMORY, h -> (int) h.invokeExact()); }

  public void manualSeed(long seed) { call(MANUAL_SEED, h -> (int) h.invokeExact(seed)); }

  public void gemmGflops(MemorySegment device, long n, int iterations, MemorySegment outGflops) { call(GEMM_GFLOPS, h -> (int) h.invokeExact(device, n, iterations, outGflops)); }

  public void gemmRate(MemorySegment device, int dtype, long n, int iterations, MemorySegment outGflops,
      MemorySegment buf, long cap, MemorySegment outNeeded) { call(GEMM_RATE, h -> (int) h.invokeExact(device, dtype, n, iterations, outGflops, buf, cap, outNeeded)); }

  public void benchForceLengths(MemorySegment lengths, long n) { call(BENCH_FORCE_LENGTHS, h -> (int) h.invokeExact(lengths, n)); }

  public void structSize(int which, MemorySegment outSize) { call(STRUCT_SIZE, h -> (int) h.invokeExact(which, outSize)); }

  public void modelConfigDefaults(MemorySegment out) { call(MODEL_CONFIG_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void modelCreate(MemorySegment config, MemorySegment device, MemorySegment outModel) { call(MODEL_CREATE, h -> (int) h.invokeExact(config, device, outModel)); }

  public void modelDestroy(MemorySegment model) { call(MODEL_DESTROY, h -> (int) h.invokeExact(model)); }

  public void modelGetConfig(MemorySegment model, MemorySegment out) { call(MODEL_GET_CONFIG, h -> (int) h.invokeExact(model, out)); }

  public void modelTensorCount(MemorySegment model, MemorySegment outCount) { call(MODEL_TENSOR_COUNT, h -> (int) h.invokeExact(model, outCount)); }

  public void modelTensorInfo(MemorySegment model, long index, MemorySegment nameBuf, long nameCap, MemorySegment outDtype, MemorySegment outNdim, MemorySegment shape, int shapeCap) { call(MODEL_TENSOR_INFO, h -> (int) h.invokeExact(model, index, nameBuf, nameCap, outDtype, outNdim, shape, shapeCap)); }

  public void modelReadTensor(MemorySegment model, MemorySegment name, int dtype, MemorySegment dst, long dstBytes) { call(MODEL_READ_TENSOR, h -> (int) h.invokeExact(model, name, dtype, dst, dstBytes)); }

  public void modelWriteTensor(MemorySegment model, MemorySegment name, int dtype, MemorySegment src, long srcBytes) { call(MODEL_WRITE_TENSOR, h -> (int) h.invokeExact(model, name, dtype, src, srcBytes)); }

  public void modelCopyWeights(MemorySegment dst, MemorySegment src) { call(MODEL_COPY_WEIGHTS, h -> (int) h.invokeExact(dst, src)); }

  public void modelSetTraining(MemorySegment model, int training) { call(MODEL_SET_TRAINING, h -> (int) h.invokeExact(model, training)); }

  public void modelLogits(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, MemorySegment out, long outCap) { call(MODEL_LOGITS, h -> (int) h.invokeExact(model, tokens, attentionMask, batch, seqLen, out, outCap)); }

  public void modelScore(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, double temperature, MemorySegment outLogprobs, MemorySegment outEntropy, MemorySegment outValues, long cap) { call(MODEL_SCORE, h -> (int) h.invokeExact(model, tokens, attentionMask, batch, seqLen, temperature, outLogprobs, outEntropy, outValues, cap)); }

  public void modelReward(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, MemorySegment outScores, long cap) { call(MODEL_REWARD, h -> (int) h.invokeExact(model, tokens, attentionMask, batch, seqLen, outScores, cap)); }

  public void rolloutCreate(MemorySegment like, MemorySegment queries, MemorySegment queryLengths, long queryStride, MemorySegment responses, MemorySegment responseLengths, long responseStride, long batch, int padTokenId, int eosTokenId, MemorySegment outRollout) { call(ROLLOUT_CREATE, h -> (int) h.invokeExact(like, queries, queryLengths, queryStride, responses, responseLengths, responseStride, batch, padTokenId, eosTokenId, outRollout)); }

  public void rolloutDestroy(MemorySegment rollout) { call(ROLLOUT_DESTROY, h -> (int) h.invokeExact(rollout)); }

  public void rolloutShape(MemorySegment rollout, MemorySegment outBatch, MemorySegment outQueryLen, MemorySegment outResponseLen) { call(ROLLOUT_SHAPE, h -> (int) h.invokeExact(rollout, outBatch, outQueryLen, outResponseLen)); }

  public void rolloutRead(MemorySegment rollout, int field, MemorySegment dst, long cap) { call(ROLLOUT_READ, h -> (int) h.invokeExact(rollout, field, dst, cap)); }

  public void rolloutWrite(MemorySegment rollout, int field, MemorySegment src, long n) { call(ROLLOUT_WRITE, h -> (int) h.invokeExact(rollout, field, src, n)); }

  public void generateOptionsDefaults(MemorySegment out) { call(GENERATE_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void generate(MemorySegment model, MemorySegment prompts, MemorySegment promptLengths, long promptStride, long batch, MemorySegment options, MemorySegment outRollout) { call(GENERATE, h -> (int) h.invokeExact(model, prompts, promptLengths, promptStride, batch, options, outRollout)); }

  public void rolloutScorePolicy(MemorySegment model, MemorySegment rollout, double temperature, int flags) { call(ROLLOUT_SCORE_POLICY, h -> (int) h.invokeExact(model, rollout, temperature, flags)); }

  public void rolloutScoreRef(MemorySegment ref, MemorySegment policyOrNull, MemorySegment rollout, double temperature) { call(ROLLOUT_SCORE_REF, h -> (int) h.invokeExact(ref, policyOrNull, rollout, temperature)); }

  public void rolloutScoreReward(MemorySegment rewardModel, MemorySegment rollout) { call(ROLLOUT_SCORE_REWARD, h -> (int) h.invokeExact(rewardModel, rollout)); }

  public void ppoOptionsDefaults(MemorySegment out) { call(PPO_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void lmLoss(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long batch, long seqLen, double lossScale, int backward, MemorySegment outLoss, MemorySegment outTokens) { call(LM_LOSS, h -> (int) h.invokeExact(model, tokens, attentionMask, lossMask, batch, seqLen, lossScale, backward, outLoss, outTokens)); }

  public void rmLoss(MemorySegment model, MemorySegment chosen, MemorySegment chosenMask, MemorySegment rejected, MemorySegment rejectedMask, long batch, long seqLen, double lossScale, int backward, MemorySegment outLoss, MemorySegment outAccuracy) { call(RM_LOSS, h -> (int) h.invokeExact(model, chosen, chosenMask, rejected, rejectedMask, batch, seqLen, lossScale, backward, outLoss, outAccuracy)); }

  public void adamwOptionsDefaults(MemorySegment out) { call(ADAMW_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void optimizerCreate(MemorySegment model, MemorySegment options, MemorySegment outOptimizer) { call(OPTIMIZER_CREATE, h -> (int) h.invokeExact(model, options, outOptimizer)); }

  public void optimizerDestroy(MemorySegment optimizer) { call(OPTIMIZER_DESTROY, h -> (int) h.invokeExact(optimizer)); }

  public void optimizerStep(MemorySegment optimizer, double lr, MemorySegment outResult) { call(OPTIMIZER_STEP, h -> (int) h.invokeExact(optimizer, lr, outResult)); }

  public void optimizerZeroGrad(MemorySegment optimizer) { call(OPTIMIZER_ZERO_GRAD, h -> (int) h.invokeExact(optimizer)); }

  public void optimizerTensorCount(MemorySegment optimizer, MemorySegment outCount) { call(OPTIMIZER_TENSOR_COUNT, h -> (int) h.invokeExact(optimizer, outCount)); }

  public void optimizerTensorInfo(MemorySegment optimizer, long index, MemorySegment nameBuf, long nameCap, MemorySegment outDtype, MemorySegment outNdim, MemorySegment shape, int shapeCap) { call(OPTIMIZER_TENSOR_INFO, h -> (int) h.invokeExact(optimizer, index, nameBuf, nameCap, outDtype, outNdim, shape, shapeCap)); }

  public void optimizerReadTensor(MemorySegment optimizer, MemorySegment name, int dtype, MemorySegment dst, long dstBytes) { call(OPTIMIZER_READ_TENSOR, h -> (int) h.invokeExact(optimizer, name, dtype, dst, dstBytes)); }

  public void optimizerWriteTensor(MemorySegment optimizer, MemorySegment name, int dtype, MemorySegment src, long srcBytes) { call(OPTIMIZER_WRITE_TENSOR, h -> (int) h.invokeExact(optimizer, name, dtype, src, srcBytes)); }
  // ---- Algorithms beyond PPO ----------------------------------------------------------------

  public void rolloutGather(MemorySegment parts, int nParts, MemorySegment partOfRow, MemorySegment rowInPart, long n, MemorySegment outRollout) { call(ROLLOUT_GATHER, h -> (int) h.invokeExact(parts, nParts, partOfRow, rowInPart, n, outRollout)); }

  public void algoOptionsDefaults(MemorySegment out) { call(ALGO_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void ppoValidate(MemorySegment options, MemorySegment algo) { call(PPO_VALIDATE, h -> (int) h.invokeExact(options, algo)); }

  public void ppoRewardsEx(MemorySegment rollout, MemorySegment options, MemorySegment algo, double klCoef, double scoreShift, double scoreScale, MemorySegment outStats) { call(PPO_REWARDS_EX, h -> (int) h.invokeExact(rollout, options, algo, klCoef, scoreShift, scoreScale, outStats)); }

  public void ppoAdvantagesEx(MemorySegment rollout, MemorySegment options, MemorySegment algo, MemorySegment outStats, MemorySegment outGroupStats) { call(PPO_ADVANTAGES_EX, h -> (int) h.invokeExact(rollout, options, algo, outStats, outGroupStats)); }

  public void ppoAccumulateEx(MemorySegment actor, MemorySegment criticOrNull, MemorySegment rollout, MemorySegment indices, long n, MemorySegment options, MemorySegment algo, double lossScale, MemorySegment outStats, MemorySegment outAlgoStats) { call(PPO_ACCUMULATE_EX, h -> (int) h.invokeExact(actor, criticOrNull, rollout, indices, n, options, algo, lossScale, outStats, outAlgoStats)); }

  public void ppoMicroBatchPositions(MemorySegment actor, MemorySegment rollout, MemorySegment indices, long n, MemorySegment outPositions) { call(PPO_MICRO_BATCH_POSITIONS, h -> (int) h.invokeExact(actor, rollout, indices, n, outPositions)); }

  // ---- Data parallelism ----

  public void distOptionsDefaults(MemorySegment out) { call(DIST_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void distInit(MemorySegment masterAddr, MemorySegment options) { call(DIST_INIT, h -> (int) h.invokeExact(masterAddr, options)); }

  public void distShutdown() { call(DIST_SHUTDOWN, h -> (int) h.invokeExact()); }

  public void distInfo(MemorySegment outRank, MemorySegment outWorldSize) { call(DIST_INFO, h -> (int) h.invokeExact(outRank, outWorldSize)); }

  public void distAllReduce(int dtype, MemorySegment buf, long n, int op) { call(DIST_ALL_REDUCE, h -> (int) h.invokeExact(dtype, buf, n, op)); }

  public void distBroadcastModel(MemorySegment model, int root) { call(DIST_BROADCAST_MODEL, h -> (int) h.invokeExact(model, root)); }

  public void distBarrier() { call(DIST_BARRIER, h -> (int) h.invokeExact()); }

  public void modelChecksum(MemorySegment model, MemorySegment outChecksum) { call(MODEL_CHECKSUM, h -> (int) h.invokeExact(model, outChecksum)); }

  public void distCountersRead(MemorySegment out) { call(DIST_COUNTERS_READ, h -> (int) h.invokeExact(out)); }

  public void generateSeeded(MemorySegment model, MemorySegment prompts, MemorySegment promptLengths, long promptStride, long batch, MemorySegment options, MemorySegment rowSeeds, MemorySegment outRollout) { call(GENERATE_SEEDED, h -> (int) h.invokeExact(model, prompts, promptLengths, promptStride, batch, options, rowSeeds, outRollout)); }

  // ---- Memory: chunked log-probs and attention, checkpointing, LoRA ----

  public void memoryOptionsDefaults(MemorySegment out) { call(MEMORY_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void modelSetMemoryOptions(MemorySegment model, MemorySegment options) { call(MODEL_SET_MEMORY_OPTIONS, h -> (int) h.invokeExact(model, options)); }

  public void modelGetMemoryOptions(MemorySegment model, MemorySegment out) { call(MODEL_GET_MEMORY_OPTIONS, h -> (int) h.invokeExact(model, out)); }

  public void modelSetAttentionChunk(MemorySegment model, long rows) { call(MODEL_SET_ATTENTION_CHUNK, h -> (int) h.invokeExact(model, rows)); }

  public void modelGetAttentionChunk(MemorySegment model, MemorySegment out) { call(MODEL_GET_ATTENTION_CHUNK, h -> (int) h.invokeExact(model, out)); }

  public void loraOptionsDefaults(MemorySegment out) { call(LORA_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void modelAddLora(MemorySegment model, MemorySegment options) { call(MODEL_ADD_LORA, h -> (int) h.invokeExact(model, options)); }

  public void modelGetLora(MemorySegment model, MemorySegment outHas, MemorySegment out) { call(MODEL_GET_LORA, h -> (int) h.invokeExact(model, outHas, out)); }

  public void modelSetAdaptersEnabled(MemorySegment model, int enabled) { call(MODEL_SET_ADAPTERS_ENABLED, h -> (int) h.invokeExact(model, enabled)); }

  public void modelMergeLora(MemorySegment model) { call(MODEL_MERGE_LORA, h -> (int) h.invokeExact(model)); }

  public void rolloutScoreRefBase(MemorySegment policy, MemorySegment rollout, double temperature, int fullKl) { call(ROLLOUT_SCORE_REF_BASE, h -> (int) h.invokeExact(policy, rollout, temperature, fullKl)); }

  // ---- LoRA: one frozen base for two models ----

  public void modelShareBase(MemorySegment model, MemorySegment from, MemorySegment outBytes) { call(MODEL_SHARE_BASE, h -> (int) h.invokeExact(model, from, outBytes)); }

  public void modelSharedBaseBytes(MemorySegment model, MemorySegment outBytes) { call(MODEL_SHARED_BASE_BYTES, h -> (int) h.invokeExact(model, outBytes)); }

  // ---- DPO ----

  public void sequenceLogps(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long rows, long seqLen, MemorySegment outLogps, MemorySegment outTokens, MemorySegment outLogitSums, long cap) { call(SEQUENCE_LOGPS, h -> (int) h.invokeExact(model, tokens, attentionMask, lossMask, rows, seqLen, outLogps, outTokens, outLogitSums, cap)); }

  public void dpoOptionsDefaults(MemorySegment out) { call(DPO_OPTIONS_DEFAULTS, h -> (int) h.invokeExact(out)); }

  public void dpoLoss(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long pairs, long seqLen, MemorySegment refLogps, MemorySegment options, double lossScale, int backward, MemorySegment outStats, MemorySegment outLogps, long logpsCap) { call(DPO_LOSS, h -> (int) h.invokeExact(model, tokens, attentionMask, lossMask, pairs, seqLen, refLogps, options, lossScale, backward, outStats, outLogps, logpsCap)); }
}
