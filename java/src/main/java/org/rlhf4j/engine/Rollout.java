package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.rlhf4j.engine.PpoResults.AdvantageStats;
import org.rlhf4j.engine.PpoResults.Advantages;
import org.rlhf4j.engine.PpoResults.AlgoLossStats;
import org.rlhf4j.engine.PpoResults.GroupStats;
import org.rlhf4j.engine.PpoResults.Loss;
import org.rlhf4j.engine.PpoResults.LossStats;
import org.rlhf4j.engine.PpoResults.RewardStats;

/**
 * A batch of prompts and sampled responses with every per-token quantity PPO needs, kept
 * in native memory between the phases (r4j_rollout). Java reads back only what it asks
 * for. Not thread-safe; see {@link Model} for the rules.
 */
public final class Rollout implements AutoCloseable {
  /** Flags of {@link #scorePolicy}. */
  public static final int LOGPROBS = 1;
  public static final int VALUES = 2;

  private final Native lib;
  private final NativeHandle handle;
  private final int batch;
  private final int queryLen;
  private final int responseLen;

  Rollout(Native lib, MemorySegment pointer) {
    this.lib = lib;
    this.handle = new NativeHandle("rollout", pointer, lib::rolloutDestroy);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment b = arena.allocate(ValueLayout.JAVA_LONG);
      MemorySegment p = arena.allocate(ValueLayout.JAVA_LONG);
      MemorySegment r = arena.allocate(ValueLayout.JAVA_LONG);
      lib.rolloutShape(pointer, b, p, r);
      batch = Math.toIntExact(b.get(ValueLayout.JAVA_LONG, 0));
      queryLen = Math.toIntExact(p.get(ValueLayout.JAVA_LONG, 0));
      responseLen = Math.toIntExact(r.get(ValueLayout.JAVA_LONG, 0));
    }
  }

  /**
   * A rollout of given queries and responses (no generation), e.g. to score fixed samples.
   * ENDED is true where a response ends with eosTokenId (every sample when it is -1).
   */
  public static Rollout of(Model like, List<int[]> queries, List<int[]> responses, int padTokenId, int eosTokenId) {
    if (queries.size() != responses.size()) {
      throw new IllegalArgumentException("rollout: " + queries.size() + " queries but " + responses.size()
          + " responses");
    }
    Native lib = NativeLibrary.get();
    Ragged q = Ragged.of(queries, "queries");
    Ragged r = Ragged.of(responses, "responses");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.rolloutCreate(like.pointer(), arena.allocateFrom(ValueLayout.JAVA_INT, q.data()),
          arena.allocateFrom(ValueLayout.JAVA_INT, q.lengths()), q.stride(),
          arena.allocateFrom(ValueLayout.JAVA_INT, r.data()), arena.allocateFrom(ValueLayout.JAVA_INT, r.lengths()),
          r.stride(), queries.size(), padTokenId, eosTokenId, out);
      return new Rollout(lib, out.get(ValueLayout.ADDRESS, 0));
    }
  }

  /**
   * A new rollout of rows picked from parts: row i is row {@code rowInPart[i]} of {@code
   * parts.get(partOfRow[i])}, with every field (DAPO's dynamic sampling assembles its batch so).
   * The parts are unchanged and stay the caller's to close.
   */
  public static Rollout gather(List<Rollout> parts, int[] partOfRow, int[] rowInPart) {
    if (partOfRow.length != rowInPart.length) {
      throw new IllegalArgumentException("gather: " + partOfRow.length + " parts but " + rowInPart.length + " rows");
    }
    Native lib = NativeLibrary.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment ptrs = arena.allocate(ValueLayout.ADDRESS, parts.size());
      for (int i = 0; i < parts.size(); i++) ptrs.setAtIndex(ValueLayout.ADDRESS, i, parts.get(i).pointer());
      long[] part = new long[partOfRow.length];
      long[] row = new long[rowInPart.length];
      for (int i = 0; i < part.length; i++) {
        part[i] = partOfRow[i];
        row[i] = rowInPart[i];
      }
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      lib.rolloutGather(ptrs, parts.size(), arena.allocateFrom(ValueLayout.JAVA_LONG, part),
          arena.allocateFrom(ValueLayout.JAVA_LONG, row), part.length, out);
      return new Rollout(lib, out.get(ValueLayout.ADDRESS, 0));
    }
  }

  public int batch() {
    return batch;
  }

  /** P: the padded prompt length. */
  public int queryLen() {
    return queryLen;
  }

  /** R: the longest response. */
  public int responseLen() {
    return responseLen;
  }

  MemorySegment pointer() {
    return handle.get();
  }

  private long size(RolloutField f) {
    if (f.perSample) return batch;
    boolean query = f == RolloutField.QUERY_TOKENS || f == RolloutField.QUERY_MASK;
    return (long) batch * (query ? queryLen : responseLen);
  }

  /** A float field, flattened ([B, R] or [B]). */
  public float[] floats(RolloutField f) {
    requireType(f, DType.F32);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = arena.allocate(ValueLayout.JAVA_FLOAT, size(f));
      lib.rolloutRead(pointer(), f.code, dst, size(f));
      return dst.toArray(ValueLayout.JAVA_FLOAT);
    }
  }

  /** An int32 field (tokens, lengths), flattened. */
  public int[] ints(RolloutField f) {
    requireType(f, DType.I32);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = arena.allocate(ValueLayout.JAVA_INT, size(f));
      lib.rolloutRead(pointer(), f.code, dst, size(f));
      return dst.toArray(ValueLayout.JAVA_INT);
    }
  }

  /** A uint8 field (masks, ENDED), flattened. */
  public byte[] bytes(RolloutField f) {
    requireType(f, DType.U8);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = arena.allocate(size(f));
      lib.rolloutRead(pointer(), f.code, dst, size(f));
      return dst.toArray(ValueLayout.JAVA_BYTE);
    }
  }

  /** Overwrites a float field (e.g. SCORES from a Java reward function). */
  public void write(RolloutField f, float[] values) {
    requireType(f, DType.F32);
    try (Arena arena = Arena.ofConfined()) {
      lib.rolloutWrite(pointer(), f.code, arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), values.length);
    }
  }

  private static void requireType(RolloutField f, DType t) {
    if (f.dtype != t) throw new IllegalArgumentException(f + " holds " + f.dtype + ", not " + t);
  }

  /** Sample i's response tokens, padding removed. */
  public int[] response(int i) {
    int[] tokens = ints(RolloutField.RESPONSE_TOKENS);
    int len = ints(RolloutField.RESPONSE_LENGTH)[i];
    int[] out = new int[len];
    System.arraycopy(tokens, i * responseLen, out, 0, len);
    return out;
  }

  /** Every sample's response tokens, padding removed. */
  public List<int[]> responses() {
    int[] tokens = ints(RolloutField.RESPONSE_TOKENS);
    int[] lengths = ints(RolloutField.RESPONSE_LENGTH);
    int[][] out = new int[batch][];
    for (int i = 0; i < batch; i++) {
      out[i] = new int[lengths[i]];
      System.arraycopy(tokens, i * responseLen, out[i], 0, lengths[i]);
    }
    return List.of(out);
  }

  /**
   * Per sample, a per-token float field summed over its response tokens: with OLD_LOGPROBS
   * minus REF_LOGPROBS, a response's k1 KL to the reference.
   */
  public double[] sumOverResponse(RolloutField f) {
    if (f.perSample || f.dtype != DType.F32) throw new IllegalArgumentException(f + " is not a per-token float field");
    float[] values = floats(f);
    int[] lengths = ints(RolloutField.RESPONSE_LENGTH);
    double[] sums = new double[batch];
    for (int i = 0; i < batch; i++) {
      for (int t = 0; t < lengths[i]; t++) sums[i] += values[i * responseLen + t];
    }
    return sums;
  }

  /** Recomputes OLD_LOGPROBS and/or OLD_VALUES (flags LOGPROBS | VALUES) with a full forward. */
  public void scorePolicy(Model model, double temperature, int flags) {
    lib.rolloutScorePolicy(model.pointer(), pointer(), temperature, flags);
  }

  /** Fills REF_LOGPROBS from the reference; with a policy, also FULL_KL. */
  public void scoreRef(Model ref, Model policyOrNull, double temperature) {
    lib.rolloutScoreRef(ref.pointer(), policyOrNull == null ? MemorySegment.NULL : policyOrNull.pointer(),
        pointer(), temperature);
  }

  /**
   * Fills REF_LOGPROBS from the base of a LoRA policy (its adapters off: the reference without a
   * second copy of the weights); with fullKl, also FULL_KL against the policy with its adapters.
   */
  public void scoreRefBase(Model policy, double temperature, boolean fullKl) {
    lib.rolloutScoreRefBase(policy.pointer(), pointer(), temperature, fullKl ? 1 : 0);
  }

  /** Fills SCORES from a reward model's head. */
  public void scoreReward(Model rewardModel) {
    lib.rolloutScoreReward(rewardModel.pointer(), pointer());
  }

  /** Feedback: KL, REWARDS, LOSS_MASK and SCORES_SHAPED ({@link AlgoOptions#defaults()} for PPO). */
  public RewardStats rewards(PpoOptions options, AlgoOptions algo, double klCoef, double scoreShift,
      double scoreScale) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(Layouts.REWARD_STATS.layout());
      lib.ppoRewardsEx(pointer(), ppo(arena, options), algo(arena, algo), klCoef, scoreShift, scoreScale, out);
      return RewardStats.read(out);
    }
  }

  /** RETURNS, ADVANTAGES and ADVANTAGES_WHITENED by the algorithm's estimator (GAE for PPO). */
  public Advantages advantages(PpoOptions options, AlgoOptions algo) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(Layouts.ADVANTAGE_STATS.layout());
      MemorySegment groups = arena.allocate(Layouts.GROUP_STATS.layout());
      lib.ppoAdvantagesEx(pointer(), ppo(arena, options), algo(arena, algo), out, groups);
      return new Advantages(AdvantageStats.read(out), GroupStats.read(groups));
    }
  }

  /**
   * The loss with the algorithm's switches over samples {@code indices}, gradients of scale *
   * loss accumulated into the actor (and the critic, or the actor's value head when critic is
   * null). Critic-free estimators take no critic (pass null).
   */
  public Loss accumulate(Model actor, Model critic, long[] indices, PpoOptions options, AlgoOptions algo,
      double scale) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(Layouts.PPO_STATS.layout());
      MemorySegment extra = arena.allocate(Layouts.ALGO_LOSS_STATS.layout());
      lib.ppoAccumulateEx(actor.pointer(), critic == null ? MemorySegment.NULL : critic.pointer(), pointer(),
          arena.allocateFrom(ValueLayout.JAVA_LONG, indices), indices.length, ppo(arena, options),
          algo(arena, algo), scale, out, extra);
      return new Loss(LossStats.read(out), AlgoLossStats.read(extra));
    }
  }

  /**
   * The token positions {@link #accumulate} runs over samples {@code indices} with this actor,
   * padding included (passes of like length, each padded to its rows' longest prompt + longest
   * response; where to cut depends on the actor's width).
   */
  public long microBatchPositions(Model actor, long[] indices) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
      lib.ppoMicroBatchPositions(actor.pointer(), pointer(), arena.allocateFrom(ValueLayout.JAVA_LONG, indices),
          indices.length, out);
      return out.get(ValueLayout.JAVA_LONG, 0);
    }
  }

  private static MemorySegment ppo(Arena arena, PpoOptions options) {
    MemorySegment o = arena.allocate(Layouts.PPO_OPTIONS.layout());
    options.write(o);
    return o;
  }

  private static MemorySegment algo(Arena arena, AlgoOptions algo) {
    MemorySegment a = arena.allocate(Layouts.ALGO_OPTIONS.layout());
    algo.write(a);
    return a;
  }

  public boolean isClosed() {
    return handle.isClosed();
  }

  @Override
  public void close() {
    handle.close();
  }
}
