package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A transformer in native memory (r4j_model): weights with Hugging Face names, optional
 * value and reward heads, and its passes (generation, scoring, losses).
 *
 * <p>Not thread-safe: use one model from one thread at a time. A second thread calling in
 * while a call runs gets a {@link NativeException} with status BUSY; calls after {@link
 * #close()} throw IllegalStateException.
 */
public final class Model extends TensorSource implements AutoCloseable {
  private final Native lib;
  private final NativeHandle handle;
  private final ModelConfig config;
  private final String device;

  private Model(Native lib, MemorySegment pointer, ModelConfig config, String device) {
    this.lib = lib;
    this.handle = new NativeHandle("model", pointer, lib::modelDestroy);
    this.config = config;
    this.device = device;
  }

  /** Creates a randomly initialised model on device ("cpu", "cuda", "cuda:N"). */
  public static Model create(ModelConfig config, String device) {
    Native lib = NativeLibrary.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment c = arena.allocate(Layouts.MODEL_CONFIG.layout());
      config.write(c);
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.modelCreate(c, arena.allocateFrom(device), out);
      MemorySegment pointer = out.get(ValueLayout.ADDRESS, 0);
      lib.modelGetConfig(pointer, c);
      return new Model(lib, pointer, ModelConfig.read(c), device);
    }
  }

  /** The config with the library's defaults filled in (n_inner, n_kv_head). */
  public ModelConfig config() {
    return config;
  }

  public String device() {
    return device;
  }

  MemorySegment pointer() {
    return handle.get();
  }

  @Override
  void count(MemorySegment out) {
    lib.modelTensorCount(pointer(), out);
  }

  @Override
  void info(long index, MemorySegment name, long cap, MemorySegment dtype, MemorySegment ndim,
      MemorySegment shape, int shapeCap) {
    lib.modelTensorInfo(pointer(), index, name, cap, dtype, ndim, shape, shapeCap);
  }

  @Override
  void read(MemorySegment name, int dtype, MemorySegment dst, long bytes) {
    lib.modelReadTensor(pointer(), name, dtype, dst, bytes);
  }

  @Override
  void write(MemorySegment name, int dtype, MemorySegment src, long bytes) {
    lib.modelWriteTensor(pointer(), name, dtype, src, bytes);
  }

  /** Copies every weight of src (same config) into this model. */
  public void copyWeightsFrom(Model src) {
    lib.modelCopyWeights(pointer(), src.pointer());
  }

  /** Training mode turns dropout on (when the config has any). */
  public void setTraining(boolean training) {
    lib.modelSetTraining(pointer(), training ? 1 : 0);
  }

  /** Sets how this model's scoring and training passes trade time for memory. */
  public void setMemoryOptions(MemoryOptions options) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.MEMORY_OPTIONS.layout());
      options.write(o);
      lib.modelSetMemoryOptions(pointer(), o);
      lib.modelSetAttentionChunk(pointer(), options.attentionChunk());
    }
  }

  public MemoryOptions memoryOptions() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.MEMORY_OPTIONS.layout());
      lib.modelGetMemoryOptions(pointer(), o);
      MemorySegment rows = arena.allocate(ValueLayout.JAVA_LONG);
      lib.modelGetAttentionChunk(pointer(), rows);
      return MemoryOptions.read(o, rows.get(ValueLayout.JAVA_LONG, 0));
    }
  }

  /**
   * Adds LoRA adapters (the model must have none) and freezes the base weights: only adapters and
   * value / reward heads train, and optimizers created afterwards hold only those.
   */
  public void addLora(LoraOptions options) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.LORA_OPTIONS.layout());
      options.write(o, config.arch());
      lib.modelAddLora(pointer(), o);
    }
  }

  /** The adapters' options, or empty without adapters. */
  public java.util.Optional<LoraOptions> lora() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment has = arena.allocate(ValueLayout.JAVA_INT);
      MemorySegment o = arena.allocate(Layouts.LORA_OPTIONS.layout());
      lib.modelGetLora(pointer(), has, o);
      return has.get(ValueLayout.JAVA_INT, 0) == 0 ? java.util.Optional.empty()
          : java.util.Optional.of(LoraOptions.read(o, config.arch()));
    }
  }

  /** false: passes run the base model alone (the reference of a LoRA policy). */
  public void setAdaptersEnabled(boolean enabled) {
    lib.modelSetAdaptersEnabled(pointer(), enabled ? 1 : 0);
  }

  /** Folds the adapters into the base weights and removes them: a plain model. */
  public void mergeLora() {
    lib.modelMergeLora(pointer());
  }

  /**
   * Drops this model's copy of every frozen base weight and uses from's instead (both with LoRA,
   * made from the same checkpoint: names, shapes, dtypes and values must match, else nothing is
   * shared and the error names the tensor). Adapters and heads stay this model's own. Either
   * model may be closed first. Returns the bytes now shared.
   */
  public long shareBase(Model from) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
      lib.modelShareBase(pointer(), from.pointer(), out);
      return out.get(ValueLayout.JAVA_LONG, 0);
    }
  }

  /** Bytes of this model's weights that {@link #shareBase} made it take from another model. */
  public long sharedBaseBytes() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
      lib.modelSharedBaseBytes(pointer(), out);
      return out.get(ValueLayout.JAVA_LONG, 0);
    }
  }

  /** Full logits [batch, seqLen, vocab], flattened. Meant for tests and small inputs. */
  public float[] logits(TokenBatch batch) {
    try (Arena arena = Arena.ofConfined()) {
      long n = (long) batch.batch() * batch.seqLen() * config.vocabSize();
      MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, n);
      lib.modelLogits(pointer(), tokens(arena, batch), mask(arena, batch), batch.batch(), batch.seqLen(), out, n);
      return out.toArray(ValueLayout.JAVA_FLOAT);
    }
  }

  /** Per-position scores of given sequences; arrays are [batch, seqLen] flattened. */
  public record Scores(float[] logprobs, float[] entropy, float[] values) {}

  /**
   * logprobs[t] = log p(token t | tokens before t) under logits / temperature (0 at position 0
   * and at padding); entropy of that distribution when asked; the value head's output at each
   * position when asked (needs a value head).
   */
  public Scores score(TokenBatch batch, double temperature, boolean entropy, boolean values) {
    try (Arena arena = Arena.ofConfined()) {
      long n = (long) batch.batch() * batch.seqLen();
      MemorySegment lp = arena.allocate(ValueLayout.JAVA_FLOAT, n);
      MemorySegment ent = entropy ? arena.allocate(ValueLayout.JAVA_FLOAT, n) : MemorySegment.NULL;
      MemorySegment val = values ? arena.allocate(ValueLayout.JAVA_FLOAT, n) : MemorySegment.NULL;
      lib.modelScore(pointer(), tokens(arena, batch), mask(arena, batch), batch.batch(), batch.seqLen(),
          temperature, lp, ent, val, n);
      return new Scores(lp.toArray(ValueLayout.JAVA_FLOAT),
          entropy ? ent.toArray(ValueLayout.JAVA_FLOAT) : null,
          values ? val.toArray(ValueLayout.JAVA_FLOAT) : null);
    }
  }

  /** The reward head's score of each sequence, read at its last real token. */
  public float[] reward(TokenBatch batch) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, batch.batch());
      lib.modelReward(pointer(), tokens(arena, batch), mask(arena, batch), batch.batch(), batch.seqLen(), out,
          batch.batch());
      return out.toArray(ValueLayout.JAVA_FLOAT);
    }
  }

  /** Samples a response per prompt (KV-cached, batched): the rollout phase. */
  public Rollout generate(List<int[]> prompts, GenerateOptions options) {
    Ragged p = Ragged.of(prompts, "prompts");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.GENERATE_OPTIONS.layout());
      options.write(o);
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.generate(pointer(), arena.allocateFrom(ValueLayout.JAVA_INT, p.data()),
          arena.allocateFrom(ValueLayout.JAVA_INT, p.lengths()), p.stride(), prompts.size(), o, out);
      return new Rollout(lib, out.get(ValueLayout.ADDRESS, 0));
    }
  }

  /**
   * Samples as {@link #generate(List, GenerateOptions)}, but row b's randomness comes from
   * rowSeeds[b] alone (options' seed is ignored): a sample is the same whatever batch or rank
   * it is generated in.
   */
  public Rollout generate(List<int[]> prompts, GenerateOptions options, long[] rowSeeds) {
    if (rowSeeds.length != prompts.size()) {
      throw new IllegalArgumentException("generate: " + rowSeeds.length + " row seeds for " + prompts.size()
          + " prompts");
    }
    Ragged p = Ragged.of(prompts, "prompts");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(Layouts.GENERATE_OPTIONS.layout());
      options.write(o);
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.generateSeeded(pointer(), arena.allocateFrom(ValueLayout.JAVA_INT, p.data()),
          arena.allocateFrom(ValueLayout.JAVA_INT, p.lengths()), p.stride(), prompts.size(), o,
          arena.allocateFrom(ValueLayout.JAVA_LONG, rowSeeds), out);
      return new Rollout(lib, out.get(ValueLayout.ADDRESS, 0));
    }
  }

  /**
   * A 64-bit hash of the exact bytes of the parameters: equal on two processes exactly when
   * their weights are bitwise equal (up to collisions).
   */
  public long checksum() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
      lib.modelChecksum(pointer(), out);
      return out.get(ValueLayout.JAVA_LONG, 0);
    }
  }

  /** A causal-LM loss value and how many tokens it averaged over. */
  public record LossResult(double loss, long tokens) {}

  /**
   * SFT's causal LM loss over positions whose lossMask entry is 1 (mask [batch, seqLen]);
   * with backward, accumulates the gradient of scale * loss.
   */
  public LossResult lmLoss(TokenBatch batch, byte[] lossMask, double scale, boolean backward) {
    if (lossMask.length != batch.tokens().length) {
      throw new IllegalArgumentException("lmLoss: lossMask has " + lossMask.length + " entries, the batch "
          + batch.tokens().length);
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment loss = arena.allocate(ValueLayout.JAVA_DOUBLE);
      MemorySegment n = arena.allocate(ValueLayout.JAVA_LONG);
      lib.lmLoss(pointer(), tokens(arena, batch), mask(arena, batch), arena.allocateFrom(ValueLayout.JAVA_BYTE, lossMask),
          batch.batch(), batch.seqLen(), scale, backward ? 1 : 0, loss, n);
      return new LossResult(loss.get(ValueLayout.JAVA_DOUBLE, 0), n.get(ValueLayout.JAVA_LONG, 0));
    }
  }

  /** The pairwise reward-model loss and accuracy of a batch of pairs. */
  public record PairResult(double loss, double accuracy) {}

  /**
   * -mean(log sigmoid(r(chosen) - r(rejected))); both batches must have the same shape. With
   * backward, accumulates the gradient of scale * loss.
   */
  public PairResult rmLoss(TokenBatch chosen, TokenBatch rejected, double scale, boolean backward) {
    if (chosen.batch() != rejected.batch() || chosen.seqLen() != rejected.seqLen()) {
      throw new IllegalArgumentException("rmLoss: chosen is " + chosen.batch() + "x" + chosen.seqLen()
          + " but rejected is " + rejected.batch() + "x" + rejected.seqLen());
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment loss = arena.allocate(ValueLayout.JAVA_DOUBLE);
      MemorySegment acc = arena.allocate(ValueLayout.JAVA_DOUBLE);
      lib.rmLoss(pointer(), tokens(arena, chosen), mask(arena, chosen), tokens(arena, rejected),
          mask(arena, rejected), chosen.batch(), chosen.seqLen(), scale, backward ? 1 : 0, loss, acc);
      return new PairResult(loss.get(ValueLayout.JAVA_DOUBLE, 0), acc.get(ValueLayout.JAVA_DOUBLE, 0));
    }
  }

  static MemorySegment tokens(Arena arena, TokenBatch b) {
    return arena.allocateFrom(ValueLayout.JAVA_INT, b.tokens());
  }

  static MemorySegment mask(Arena arena, TokenBatch b) {
    return arena.allocateFrom(ValueLayout.JAVA_BYTE, b.mask());
  }

  public boolean isClosed() {
    return handle.isClosed();
  }

  /** Frees the native model. Close optimizers over it first. Idempotent. */
  @Override
  public void close() {
    handle.close();
  }
}
