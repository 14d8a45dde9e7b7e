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
  private static final String MANUAL_SEED = fn("r4j_manual_seed", JAVA_LONG);
  private static final String GEMM_GFLOPS = fn("r4j_gemm_gflops", ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS);
  private static final String STRUCT_SIZE = fn("r4j_struct_size", JAVA_INT, ADDRESS);
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
  private final MethodHandle abiVersion;
  private final MethodHandle buildInfo;
  private final MethodHandle setNumThreads;
  private final MethodHandle manualSeed;
  private final MethodHandle gemmGflops;
  private final MethodHandle gemmRate;
  private final MethodHandle structSize;
  private final MethodHandle modelConfigDefaults;
  private final MethodHandle modelCreate;
  private final MethodHandle modelDestroy;
  private final MethodHandle modelGetConfig;
  private final MethodHandle modelTensorCount;
  private final MethodHandle modelTensorInfo;
  private final MethodHandle modelReadTensor;
  private final MethodHandle modelWriteTensor;
  private final MethodHandle modelCopyWeights;
  private final MethodHandle modelSetTraining;
  private final MethodHandle modelLogits;
  private final MethodHandle modelScore;
  private final MethodHandle modelReward;
  private final MethodHandle rolloutCreate;
  private final MethodHandle rolloutDestroy;
  private final MethodHandle rolloutShape;
  private final MethodHandle rolloutRead;
  private final MethodHandle rolloutWrite;
  private final MethodHandle generateOptionsDefaults;
  private final MethodHandle generate;
  private final MethodHandle rolloutScorePolicy;
  private final MethodHandle rolloutScoreRef;
  private final MethodHandle rolloutScoreReward;
  private final MethodHandle ppoOptionsDefaults;
  private final MethodHandle lmLoss;
  private final MethodHandle rmLoss;
  private final MethodHandle adamwOptionsDefaults;
  private final MethodHandle optimizerCreate;
  private final MethodHandle optimizerDestroy;
  private final MethodHandle optimizerStep;
  private final MethodHandle optimizerZeroGrad;
  private final MethodHandle optimizerTensorCount;
  private final MethodHandle optimizerTensorInfo;
  private final MethodHandle optimizerReadTensor;
  private final MethodHandle optimizerWriteTensor;
  private final MethodHandle rolloutGather;
  private final MethodHandle algoOptionsDefaults;
  private final MethodHandle ppoValidate;
  private final MethodHandle ppoRewardsEx;
  private final MethodHandle ppoAdvantagesEx;
  private final MethodHandle ppoAccumulateEx;
  private final MethodHandle distOptionsDefaults;
  private final MethodHandle distInit;
  private final MethodHandle distShutdown;
  private final MethodHandle distInfo;
  private final MethodHandle distAllReduce;
  private final MethodHandle distBroadcastModel;
  private final MethodHandle distBarrier;
  private final MethodHandle modelChecksum;
  private final MethodHandle distCountersRead;
  private final MethodHandle generateSeeded;
  private final MethodHandle memoryOptionsDefaults;
  private final MethodHandle modelSetMemoryOptions;
  private final MethodHandle modelGetMemoryOptions;
  private final MethodHandle modelSetAttentionChunk;
  private final MethodHandle modelGetAttentionChunk;
  private final MethodHandle sequenceLogps;
  private final MethodHandle dpoOptionsDefaults;
  private final MethodHandle dpoLoss;
  private final MethodHandle loraOptionsDefaults;
  private final MethodHandle modelAddLora;
  private final MethodHandle modelGetLora;
  private final MethodHandle modelSetAdaptersEnabled;
  private final MethodHandle modelMergeLora;
  private final MethodHandle rolloutScoreRefBase;
  private final MethodHandle modelShareBase;
  private final MethodHandle modelSharedBaseBytes;

  Native(SymbolLookup lookup) {
    lastError = linker.downcallHandle(find(lookup, LAST_ERROR), FunctionDescriptor.of(ADDRESS));
    abiVersion = bind(lookup, ABI_VERSION);
    buildInfo = bind(lookup, BUILD_INFO);
    setNumThreads = bind(lookup, SET_NUM_THREADS);
    manualSeed = bind(lookup, MANUAL_SEED);
    gemmGflops = bind(lookup, GEMM_GFLOPS);
    gemmRate = bind(lookup, GEMM_RATE);
    structSize = bind(lookup, STRUCT_SIZE);
    modelConfigDefaults = bind(lookup, MODEL_CONFIG_DEFAULTS);
    modelCreate = bind(lookup, MODEL_CREATE);
    modelDestroy = bind(lookup, MODEL_DESTROY);
    modelGetConfig = bind(lookup, MODEL_GET_CONFIG);
    modelTensorCount = bind(lookup, MODEL_TENSOR_COUNT);
    modelTensorInfo = bind(lookup, MODEL_TENSOR_INFO);
    modelReadTensor = bind(lookup, MODEL_READ_TENSOR);
    modelWriteTensor = bind(lookup, MODEL_WRITE_TENSOR);
    modelCopyWeights = bind(lookup, MODEL_COPY_WEIGHTS);
    modelSetTraining = bind(lookup, MODEL_SET_TRAINING);
    modelLogits = bind(lookup, MODEL_LOGITS);
    modelScore = bind(lookup, MODEL_SCORE);
    modelReward = bind(lookup, MODEL_REWARD);
    rolloutCreate = bind(lookup, ROLLOUT_CREATE);
    rolloutDestroy = bind(lookup, ROLLOUT_DESTROY);
    rolloutShape = bind(lookup, ROLLOUT_SHAPE);
    rolloutRead = bind(lookup, ROLLOUT_READ);
    rolloutWrite = bind(lookup, ROLLOUT_WRITE);
    generateOptionsDefaults = bind(lookup, GENERATE_OPTIONS_DEFAULTS);
    generate = bind(lookup, GENERATE);
    rolloutScorePolicy = bind(lookup, ROLLOUT_SCORE_POLICY);
    rolloutScoreRef = bind(lookup, ROLLOUT_SCORE_REF);
    rolloutScoreReward = bind(lookup, ROLLOUT_SCORE_REWARD);
    ppoOptionsDefaults = bind(lookup, PPO_OPTIONS_DEFAULTS);
    lmLoss = bind(lookup, LM_LOSS);
    rmLoss = bind(lookup, RM_LOSS);
    adamwOptionsDefaults = bind(lookup, ADAMW_OPTIONS_DEFAULTS);
    optimizerCreate = bind(lookup, OPTIMIZER_CREATE);
    optimizerDestroy = bind(lookup, OPTIMIZER_DESTROY);
    optimizerStep = bind(lookup, OPTIMIZER_STEP);
    optimizerZeroGrad = bind(lookup, OPTIMIZER_ZERO_GRAD);
    optimizerTensorCount = bind(lookup, OPTIMIZER_TENSOR_COUNT);
    optimizerTensorInfo = bind(lookup, OPTIMIZER_TENSOR_INFO);
    optimizerReadTensor = bind(lookup, OPTIMIZER_READ_TENSOR);
    optimizerWriteTensor = bind(lookup, OPTIMIZER_WRITE_TENSOR);
    rolloutGather = bind(lookup, ROLLOUT_GATHER);
    algoOptionsDefaults = bind(lookup, ALGO_OPTIONS_DEFAULTS);
    ppoValidate = bind(lookup, PPO_VALIDATE);
    ppoRewardsEx = bind(lookup, PPO_REWARDS_EX);
    ppoAdvantagesEx = bind(lookup, PPO_ADVANTAGES_EX);
    ppoAccumulateEx = bind(lookup, PPO_ACCUMULATE_EX);
    distOptionsDefaults = bind(lookup, DIST_OPTIONS_DEFAULTS);
    distInit = bind(lookup, DIST_INIT);
    distShutdown = bind(lookup, DIST_SHUTDOWN);
    distInfo = bind(lookup, DIST_INFO);
    distAllReduce = bind(lookup, DIST_ALL_REDUCE);
    distBroadcastModel = bind(lookup, DIST_BROADCAST_MODEL);
    distBarrier = bind(lookup, DIST_BARRIER);
    modelChecksum = bind(lookup, MODEL_CHECKSUM);
    distCountersRead = bind(lookup, DIST_COUNTERS_READ);
    generateSeeded = bind(lookup, GENERATE_SEEDED);
    memoryOptionsDefaults = bind(lookup, MEMORY_OPTIONS_DEFAULTS);
    modelSetMemoryOptions = bind(lookup, MODEL_SET_MEMORY_OPTIONS);
    modelGetMemoryOptions = bind(lookup, MODEL_GET_MEMORY_OPTIONS);
    modelSetAttentionChunk = bind(lookup, MODEL_SET_ATTENTION_CHUNK);
    modelGetAttentionChunk = bind(lookup, MODEL_GET_ATTENTION_CHUNK);
    sequenceLogps = bind(lookup, SEQUENCE_LOGPS);
    dpoOptionsDefaults = bind(lookup, DPO_OPTIONS_DEFAULTS);
    dpoLoss = bind(lookup, DPO_LOSS);
    loraOptionsDefaults = bind(lookup, LORA_OPTIONS_DEFAULTS);
    modelAddLora = bind(lookup, MODEL_ADD_LORA);
    modelGetLora = bind(lookup, MODEL_GET_LORA);
    modelSetAdaptersEnabled = bind(lookup, MODEL_SET_ADAPTERS_ENABLED);
    modelMergeLora = bind(lookup, MODEL_MERGE_LORA);
    rolloutScoreRefBase = bind(lookup, ROLLOUT_SCORE_REF_BASE);
    modelShareBase = bind(lookup, MODEL_SHARE_BASE);
    modelSharedBaseBytes = bind(lookup, MODEL_SHARED_BASE_BYTES);
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

  @FunctionalInterface
  private interface Downcall {
    int invoke() throws Throwable;
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
      status = downcall.invoke();
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

  public void abiVersion(MemorySegment outVersion) {
    call(ABI_VERSION, () -> (int) abiVersion.invokeExact(outVersion));
  }

  public void buildInfo(MemorySegment buf, long cap, MemorySegment outNeeded) {
    call(BUILD_INFO, () -> (int) buildInfo.invokeExact(buf, cap, outNeeded));
  }

  public void setNumThreads(int n) {
    call(SET_NUM_THREADS, () -> (int) setNumThreads.invokeExact(n));
  }

  public void manualSeed(long seed) {
    call(MANUAL_SEED, () -> (int) manualSeed.invokeExact(seed));
  }

  public void gemmGflops(MemorySegment device, long n, int iterations, MemorySegment outGflops) {
    call(GEMM_GFLOPS, () -> (int) gemmGflops.invokeExact(device, n, iterations, outGflops));
  }

  public void gemmRate(MemorySegment device, int dtype, long n, int iterations, MemorySegment outGflops,
      MemorySegment buf, long cap, MemorySegment outNeeded) {
    call(GEMM_RATE, () -> (int) gemmRate.invokeExact(device, dtype, n, iterations, outGflops, buf, cap, outNeeded));
  }

  public void structSize(int which, MemorySegment outSize) {
    call(STRUCT_SIZE, () -> (int) structSize.invokeExact(which, outSize));
  }

  public void modelConfigDefaults(MemorySegment out) {
    call(MODEL_CONFIG_DEFAULTS, () -> (int) modelConfigDefaults.invokeExact(out));
  }

  public void modelCreate(MemorySegment config, MemorySegment device, MemorySegment outModel) {
    call(MODEL_CREATE, () -> (int) modelCreate.invokeExact(config, device, outModel));
  }

  public void modelDestroy(MemorySegment model) {
    call(MODEL_DESTROY, () -> (int) modelDestroy.invokeExact(model));
  }

  public void modelGetConfig(MemorySegment model, MemorySegment out) {
    call(MODEL_GET_CONFIG, () -> (int) modelGetConfig.invokeExact(model, out));
  }

  public void modelTensorCount(MemorySegment model, MemorySegment outCount) {
    call(MODEL_TENSOR_COUNT, () -> (int) modelTensorCount.invokeExact(model, outCount));
  }

  public void modelTensorInfo(MemorySegment model, long index, MemorySegment nameBuf, long nameCap, MemorySegment outDtype, MemorySegment outNdim, MemorySegment shape, int shapeCap) {
    call(MODEL_TENSOR_INFO, () -> (int) modelTensorInfo.invokeExact(model, index, nameBuf, nameCap, outDtype, outNdim, shape, shapeCap));
  }

  public void modelReadTensor(MemorySegment model, MemorySegment name, int dtype, MemorySegment dst, long dstBytes) {
    call(MODEL_READ_TENSOR, () -> (int) modelReadTensor.invokeExact(model, name, dtype, dst, dstBytes));
  }

  public void modelWriteTensor(MemorySegment model, MemorySegment name, int dtype, MemorySegment src, long srcBytes) {
    call(MODEL_WRITE_TENSOR, () -> (int) modelWriteTensor.invokeExact(model, name, dtype, src, srcBytes));
  }

  public void modelCopyWeights(MemorySegment dst, MemorySegment src) {
    call(MODEL_COPY_WEIGHTS, () -> (int) modelCopyWeights.invokeExact(dst, src));
  }

  public void modelSetTraining(MemorySegment model, int training) {
    call(MODEL_SET_TRAINING, () -> (int) modelSetTraining.invokeExact(model, training));
  }

  public void modelLogits(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, MemorySegment out, long outCap) {
    call(MODEL_LOGITS, () -> (int) modelLogits.invokeExact(model, tokens, attentionMask, batch, seqLen, out, outCap));
  }

  public void modelScore(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, double temperature, MemorySegment outLogprobs, MemorySegment outEntropy, MemorySegment outValues, long cap) {
    call(MODEL_SCORE, () -> (int) modelScore.invokeExact(model, tokens, attentionMask, batch, seqLen, temperature, outLogprobs, outEntropy, outValues, cap));
  }

  public void modelReward(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, long batch, long seqLen, MemorySegment outScores, long cap) {
    call(MODEL_REWARD, () -> (int) modelReward.invokeExact(model, tokens, attentionMask, batch, seqLen, outScores, cap));
  }

  public void rolloutCreate(MemorySegment like, MemorySegment queries, MemorySegment queryLengths, long queryStride, MemorySegment responses, MemorySegment responseLengths, long responseStride, long batch, int padTokenId, int eosTokenId, MemorySegment outRollout) {
    call(ROLLOUT_CREATE, () -> (int) rolloutCreate.invokeExact(like, queries, queryLengths, queryStride, responses, responseLengths, responseStride, batch, padTokenId, eosTokenId, outRollout));
  }

  public void rolloutDestroy(MemorySegment rollout) {
    call(ROLLOUT_DESTROY, () -> (int) rolloutDestroy.invokeExact(rollout));
  }

  public void rolloutShape(MemorySegment rollout, MemorySegment outBatch, MemorySegment outQueryLen, MemorySegment outResponseLen) {
    call(ROLLOUT_SHAPE, () -> (int) rolloutShape.invokeExact(rollout, outBatch, outQueryLen, outResponseLen));
  }

  public void rolloutRead(MemorySegment rollout, int field, MemorySegment dst, long cap) {
    call(ROLLOUT_READ, () -> (int) rolloutRead.invokeExact(rollout, field, dst, cap));
  }

  public void rolloutWrite(MemorySegment rollout, int field, MemorySegment src, long n) {
    call(ROLLOUT_WRITE, () -> (int) rolloutWrite.invokeExact(rollout, field, src, n));
  }

  public void generateOptionsDefaults(MemorySegment out) {
    call(GENERATE_OPTIONS_DEFAULTS, () -> (int) generateOptionsDefaults.invokeExact(out));
  }

  public void generate(MemorySegment model, MemorySegment prompts, MemorySegment promptLengths, long promptStride, long batch, MemorySegment options, MemorySegment outRollout) {
    call(GENERATE, () -> (int) generate.invokeExact(model, prompts, promptLengths, promptStride, batch, options, outRollout));
  }

  public void rolloutScorePolicy(MemorySegment model, MemorySegment rollout, double temperature, int flags) {
    call(ROLLOUT_SCORE_POLICY, () -> (int) rolloutScorePolicy.invokeExact(model, rollout, temperature, flags));
  }

  public void rolloutScoreRef(MemorySegment ref, MemorySegment policyOrNull, MemorySegment rollout, double temperature) {
    call(ROLLOUT_SCORE_REF, () -> (int) rolloutScoreRef.invokeExact(ref, policyOrNull, rollout, temperature));
  }

  public void rolloutScoreReward(MemorySegment rewardModel, MemorySegment rollout) {
    call(ROLLOUT_SCORE_REWARD, () -> (int) rolloutScoreReward.invokeExact(rewardModel, rollout));
  }

  public void ppoOptionsDefaults(MemorySegment out) {
    call(PPO_OPTIONS_DEFAULTS, () -> (int) ppoOptionsDefaults.invokeExact(out));
  }

  public void lmLoss(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long batch, long seqLen, double lossScale, int backward, MemorySegment outLoss, MemorySegment outTokens) {
    call(LM_LOSS, () -> (int) lmLoss.invokeExact(model, tokens, attentionMask, lossMask, batch, seqLen, lossScale, backward, outLoss, outTokens));
  }

  public void rmLoss(MemorySegment model, MemorySegment chosen, MemorySegment chosenMask, MemorySegment rejected, MemorySegment rejectedMask, long batch, long seqLen, double lossScale, int backward, MemorySegment outLoss, MemorySegment outAccuracy) {
    call(RM_LOSS, () -> (int) rmLoss.invokeExact(model, chosen, chosenMask, rejected, rejectedMask, batch, seqLen, lossScale, backward, outLoss, outAccuracy));
  }

  public void adamwOptionsDefaults(MemorySegment out) {
    call(ADAMW_OPTIONS_DEFAULTS, () -> (int) adamwOptionsDefaults.invokeExact(out));
  }

  public void optimizerCreate(MemorySegment model, MemorySegment options, MemorySegment outOptimizer) {
    call(OPTIMIZER_CREATE, () -> (int) optimizerCreate.invokeExact(model, options, outOptimizer));
  }

  public void optimizerDestroy(MemorySegment optimizer) {
    call(OPTIMIZER_DESTROY, () -> (int) optimizerDestroy.invokeExact(optimizer));
  }

  public void optimizerStep(MemorySegment optimizer, double lr, MemorySegment outResult) {
    call(OPTIMIZER_STEP, () -> (int) optimizerStep.invokeExact(optimizer, lr, outResult));
  }

  public void optimizerZeroGrad(MemorySegment optimizer) {
    call(OPTIMIZER_ZERO_GRAD, () -> (int) optimizerZeroGrad.invokeExact(optimizer));
  }

  public void optimizerTensorCount(MemorySegment optimizer, MemorySegment outCount) {
    call(OPTIMIZER_TENSOR_COUNT, () -> (int) optimizerTensorCount.invokeExact(optimizer, outCount));
  }

  public void optimizerTensorInfo(MemorySegment optimizer, long index, MemorySegment nameBuf, long nameCap, MemorySegment outDtype, MemorySegment outNdim, MemorySegment shape, int shapeCap) {
    call(OPTIMIZER_TENSOR_INFO, () -> (int) optimizerTensorInfo.invokeExact(optimizer, index, nameBuf, nameCap, outDtype, outNdim, shape, shapeCap));
  }

  public void optimizerReadTensor(MemorySegment optimizer, MemorySegment name, int dtype, MemorySegment dst, long dstBytes) {
    call(OPTIMIZER_READ_TENSOR, () -> (int) optimizerReadTensor.invokeExact(optimizer, name, dtype, dst, dstBytes));
  }

  public void optimizerWriteTensor(MemorySegment optimizer, MemorySegment name, int dtype, MemorySegment src, long srcBytes) {
    call(OPTIMIZER_WRITE_TENSOR, () -> (int) optimizerWriteTensor.invokeExact(optimizer, name, dtype, src, srcBytes));
  }
  // ---- Algorithms beyond PPO ----------------------------------------------------------------

  public void rolloutGather(MemorySegment parts, int nParts, MemorySegment partOfRow, MemorySegment rowInPart, long n, MemorySegment outRollout) {
    call(ROLLOUT_GATHER, () -> (int) rolloutGather.invokeExact(parts, nParts, partOfRow, rowInPart, n, outRollout));
  }

  public void algoOptionsDefaults(MemorySegment out) {
    call(ALGO_OPTIONS_DEFAULTS, () -> (int) algoOptionsDefaults.invokeExact(out));
  }

  public void ppoValidate(MemorySegment options, MemorySegment algo) {
    call(PPO_VALIDATE, () -> (int) ppoValidate.invokeExact(options, algo));
  }

  public void ppoRewardsEx(MemorySegment rollout, MemorySegment options, MemorySegment algo, double klCoef, double scoreShift, double scoreScale, MemorySegment outStats) {
    call(PPO_REWARDS_EX, () -> (int) ppoRewardsEx.invokeExact(rollout, options, algo, klCoef, scoreShift, scoreScale, outStats));
  }

  public void ppoAdvantagesEx(MemorySegment rollout, MemorySegment options, MemorySegment algo, MemorySegment outStats, MemorySegment outGroupStats) {
    call(PPO_ADVANTAGES_EX, () -> (int) ppoAdvantagesEx.invokeExact(rollout, options, algo, outStats, outGroupStats));
  }

  public void ppoAccumulateEx(MemorySegment actor, MemorySegment criticOrNull, MemorySegment rollout, MemorySegment indices, long n, MemorySegment options, MemorySegment algo, double lossScale, MemorySegment outStats, MemorySegment outAlgoStats) {
    call(PPO_ACCUMULATE_EX, () -> (int) ppoAccumulateEx.invokeExact(actor, criticOrNull, rollout, indices, n, options, algo, lossScale, outStats, outAlgoStats));
  }

  // ---- Data parallelism ----

  public void distOptionsDefaults(MemorySegment out) {
    call(DIST_OPTIONS_DEFAULTS, () -> (int) distOptionsDefaults.invokeExact(out));
  }

  public void distInit(MemorySegment masterAddr, MemorySegment options) {
    call(DIST_INIT, () -> (int) distInit.invokeExact(masterAddr, options));
  }

  public void distShutdown() {
    call(DIST_SHUTDOWN, () -> (int) distShutdown.invokeExact());
  }

  public void distInfo(MemorySegment outRank, MemorySegment outWorldSize) {
    call(DIST_INFO, () -> (int) distInfo.invokeExact(outRank, outWorldSize));
  }

  public void distAllReduce(int dtype, MemorySegment buf, long n, int op) {
    call(DIST_ALL_REDUCE, () -> (int) distAllReduce.invokeExact(dtype, buf, n, op));
  }

  public void distBroadcastModel(MemorySegment model, int root) {
    call(DIST_BROADCAST_MODEL, () -> (int) distBroadcastModel.invokeExact(model, root));
  }

  public void distBarrier() {
    call(DIST_BARRIER, () -> (int) distBarrier.invokeExact());
  }

  public void modelChecksum(MemorySegment model, MemorySegment outChecksum) {
    call(MODEL_CHECKSUM, () -> (int) modelChecksum.invokeExact(model, outChecksum));
  }

  public void distCountersRead(MemorySegment out) {
    call(DIST_COUNTERS_READ, () -> (int) distCountersRead.invokeExact(out));
  }

  public void generateSeeded(MemorySegment model, MemorySegment prompts, MemorySegment promptLengths, long promptStride, long batch, MemorySegment options, MemorySegment rowSeeds, MemorySegment outRollout) {
    call(GENERATE_SEEDED, () -> (int) generateSeeded.invokeExact(model, prompts, promptLengths, promptStride, batch, options, rowSeeds, outRollout));
  }

  // ---- Memory: chunked log-probs and attention, checkpointing, LoRA ----

  public void memoryOptionsDefaults(MemorySegment out) {
    call(MEMORY_OPTIONS_DEFAULTS, () -> (int) memoryOptionsDefaults.invokeExact(out));
  }

  public void modelSetMemoryOptions(MemorySegment model, MemorySegment options) {
    call(MODEL_SET_MEMORY_OPTIONS, () -> (int) modelSetMemoryOptions.invokeExact(model, options));
  }

  public void modelGetMemoryOptions(MemorySegment model, MemorySegment out) {
    call(MODEL_GET_MEMORY_OPTIONS, () -> (int) modelGetMemoryOptions.invokeExact(model, out));
  }

  public void modelSetAttentionChunk(MemorySegment model, long rows) {
    call(MODEL_SET_ATTENTION_CHUNK, () -> (int) modelSetAttentionChunk.invokeExact(model, rows));
  }

  public void modelGetAttentionChunk(MemorySegment model, MemorySegment out) {
    call(MODEL_GET_ATTENTION_CHUNK, () -> (int) modelGetAttentionChunk.invokeExact(model, out));
  }

  public void loraOptionsDefaults(MemorySegment out) {
    call(LORA_OPTIONS_DEFAULTS, () -> (int) loraOptionsDefaults.invokeExact(out));
  }

  public void modelAddLora(MemorySegment model, MemorySegment options) {
    call(MODEL_ADD_LORA, () -> (int) modelAddLora.invokeExact(model, options));
  }

  public void modelGetLora(MemorySegment model, MemorySegment outHas, MemorySegment out) {
    call(MODEL_GET_LORA, () -> (int) modelGetLora.invokeExact(model, outHas, out));
  }

  public void modelSetAdaptersEnabled(MemorySegment model, int enabled) {
    call(MODEL_SET_ADAPTERS_ENABLED, () -> (int) modelSetAdaptersEnabled.invokeExact(model, enabled));
  }

  public void modelMergeLora(MemorySegment model) {
    call(MODEL_MERGE_LORA, () -> (int) modelMergeLora.invokeExact(model));
  }

  public void rolloutScoreRefBase(MemorySegment policy, MemorySegment rollout, double temperature, int fullKl) {
    call(ROLLOUT_SCORE_REF_BASE, () -> (int) rolloutScoreRefBase.invokeExact(policy, rollout, temperature, fullKl));
  }

  // ---- LoRA: one frozen base for two models ----

  public void modelShareBase(MemorySegment model, MemorySegment from, MemorySegment outBytes) {
    call(MODEL_SHARE_BASE, () -> (int) modelShareBase.invokeExact(model, from, outBytes));
  }

  public void modelSharedBaseBytes(MemorySegment model, MemorySegment outBytes) {
    call(MODEL_SHARED_BASE_BYTES, () -> (int) modelSharedBaseBytes.invokeExact(model, outBytes));
  }

  // ---- DPO ----

  public void sequenceLogps(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long rows, long seqLen, MemorySegment outLogps, MemorySegment outTokens, MemorySegment outLogitSums, long cap) {
    call(SEQUENCE_LOGPS, () -> (int) sequenceLogps.invokeExact(model, tokens, attentionMask, lossMask, rows, seqLen, outLogps, outTokens, outLogitSums, cap));
  }

  public void dpoOptionsDefaults(MemorySegment out) {
    call(DPO_OPTIONS_DEFAULTS, () -> (int) dpoOptionsDefaults.invokeExact(out));
  }

  public void dpoLoss(MemorySegment model, MemorySegment tokens, MemorySegment attentionMask, MemorySegment lossMask, long pairs, long seqLen, MemorySegment refLogps, MemorySegment options, double lossScale, int backward, MemorySegment outStats, MemorySegment outLogps, long logpsCap) {
    call(DPO_LOSS, () -> (int) dpoLoss.invokeExact(model, tokens, attentionMask, lossMask, pairs, seqLen, refLogps, options, lossScale, backward, outStats, outLogps, logpsCap));
  }
}
