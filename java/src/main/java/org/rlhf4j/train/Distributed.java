package org.rlhf4j.train;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ProcessGroup;
import org.rlhf4j.metrics.Logging;

/**
 * This process's place in a data-parallel job, and the reductions the training loops make
 * their global decisions with. Joined from torchrun's environment ({@code RANK},
 * {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR},
 * {@code MASTER_PORT}, {@code TORCHELASTIC_USE_AGENT_STORE}, {@code TORCHELASTIC_RESTART_COUNT})
 * or Slurm's ({@code SLURM_PROCID}, {@code SLURM_NTASKS}, {@code SLURM_LOCALID},
 * {@code SLURM_NTASKS_PER_NODE}; MASTER_ADDR and MASTER_PORT still come from the job script).
 * Without them it is a single process and every reduction is the identity.
 *
 * <p>One per process ({@link #current()}); closing it leaves the process group. The loops
 * call the reductions on every rank in the same order. Thread-safe.
 */
public final class Distributed implements AutoCloseable {
  private static final Distributed SINGLE = new Distributed(0, 1, 0, 1, false);
  private static volatile Distributed current = SINGLE;

  private final int rank;
  private final int worldSize;
  private final int localRank;
  private final int localWorldSize;
  private final boolean joined;

  private Distributed(int rank, int worldSize, int localRank, int localWorldSize, boolean joined) {
    this.rank = rank;
    this.worldSize = worldSize;
    this.localRank = localRank;
    this.localWorldSize = localWorldSize;
    this.joined = joined;
  }

  /** The joined job, or a single process when none was joined. */
  public static Distributed current() {
    return current;
  }

  /**
   * Joins the job that env describes (a single process when it describes none). device picks
   * the backend: NCCL on cuda:LOCAL_RANK for cuda devices, Gloo otherwise.
   *
   * @throws IllegalArgumentException when a variable is malformed
   * @throws org.rlhf4j.engine.NativeException when the rendezvous fails within timeout
   */
  public static synchronized Distributed join(Map<String, String> env, Duration timeout, String device) {
    if (current != SINGLE) throw new IllegalStateException("already joined as rank " + current.rank);
    boolean slurm = env.get("RANK") == null && env.get("SLURM_PROCID") != null;
    int worldSize = intVar(env, slurm ? "SLURM_NTASKS" : "WORLD_SIZE", 1);
    if (worldSize < 1) throw new IllegalArgumentException("WORLD_SIZE must be >= 1, got " + worldSize);
    if (worldSize == 1) return SINGLE;
    int rank = intVar(env, slurm ? "SLURM_PROCID" : "RANK", -1);
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException((slurm ? "SLURM_PROCID" : "RANK") + " must be in [0, " + worldSize
          + "), got " + env.get(slurm ? "SLURM_PROCID" : "RANK"));
    }
    int localRank = intVar(env, slurm ? "SLURM_LOCALID" : "LOCAL_RANK", 0);
    int localWorldSize = slurm ? leadingInt(env.get("SLURM_NTASKS_PER_NODE"), 1) : intVar(env, "LOCAL_WORLD_SIZE", 1);
    String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1");
    int port = intVar(env, "MASTER_PORT", 29500);
    boolean agentStore = "true".equalsIgnoreCase(env.getOrDefault("TORCHELASTIC_USE_AGENT_STORE", "false"));
    int restart = intVar(env, "TORCHELASTIC_RESTART_COUNT", 0);
    Logging.setPrefix("[rank " + rank + "] ");
    ProcessGroup.join(new ProcessGroup.Member(rank, worldSize, localRank, localWorldSize, addr, port, agentStore,
        restart, device.startsWith("cuda"), timeout));
    current = new Distributed(rank, worldSize, localRank, localWorldSize, true);
    return current;
  }

  private static int intVar(Map<String, String> env, String name, int fallback) {
    String v = env.get(name);
    if (v == null || v.isBlank()) return fallback;
    try {
      return Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("environment variable " + name + " must be an integer, got '" + v + "'");
    }
  }

  /** Slurm writes tasks per node as "2" or "2(x3)". */
  private static int leadingInt(String v, int fallback) {
    if (v == null) return fallback;
    int end = 0;
    while (end < v.length() && Character.isDigit(v.charAt(end))) end++;
    return end == 0 ? fallback : Integer.parseInt(v.substring(0, end));
  }

  public int rank() {
    return rank;
  }

  public int worldSize() {
    return worldSize;
  }

  public int localRank() {
    return localRank;
  }

  public int localWorldSize() {
    return localWorldSize;
  }

  /** True on rank 0, the one rank that writes files. */
  public boolean isMain() {
    return rank == 0;
  }

  /** True when more than one process takes part. */
  public boolean active() {
    return joined;
  }

  /** The device this rank's tensors live on: cuda becomes cuda:LOCAL_RANK in a job. */
  public String device(String configured) {
    return joined && configured.equals("cuda") ? "cuda:" + localRank : configured;
  }

  /** First index of this rank's contiguous share of n items (shares differ by at most one). */
  public int shareStart(int n) {
    return (int) ((long) n * rank / worldSize);
  }

  /** One past the last index of this rank's share of n items. */
  public int shareEnd(int n) {
    return (int) ((long) n * (rank + 1) / worldSize);
  }

  /** Element-wise sums over ranks (a copy; the argument is left alone). */
  public double[] sum(double... values) {
    double[] out = values.clone();
    if (joined) ProcessGroup.allReduce(out, ProcessGroup.Op.SUM);
    return out;
  }

  public long sum(long value) {
    long[] out = {value};
    if (joined) ProcessGroup.allReduce(out, ProcessGroup.Op.SUM);
    return out[0];
  }

  /** The mean over ranks of each value. */
  public double[] mean(double... values) {
    double[] out = sum(values);
    for (int i = 0; i < out.length; i++) out[i] /= worldSize;
    return out;
  }

  /** True on every rank when flag is true on any rank: decisions all ranks take together. */
  public boolean any(boolean flag) {
    long[] v = {flag ? 1 : 0};
    if (joined) ProcessGroup.allReduce(v, ProcessGroup.Op.MAX);
    return v[0] != 0;
  }

  /**
   * Every rank holds the values of all ranks' parts of a global per-sample array of length n, in
   * global order; this rank's part is local, at [from, from + local.length).
   */
  public float[] gather(float[] local, int from, int n) {
    if (!joined) return local.clone();
    double[] all = new double[n];
    for (int i = 0; i < local.length; i++) all[from + i] = local[i];
    ProcessGroup.allReduce(all, ProcessGroup.Op.SUM);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) out[i] = (float) all[i];
    return out;
  }

  /**
   * Refuses to start when the ranks' effective configurations differ, naming the first key
   * whose value differs (keys in the order given; every rank must pass the same keys).
   */
  public void requireSameConfig(Map<String, String> values) {
    if (!joined) return;
    List<String> keys = new ArrayList<>(values.keySet());
    long[] hashes = new long[keys.size() + 1];
    hashes[0] = keys.size();
    for (int i = 0; i < keys.size(); i++) {
      hashes[i + 1] = Seeds.mix(fingerprint(keys.get(i)), fingerprint(values.get(keys.get(i))));
    }
    long[] low = hashes.clone(), high = hashes.clone();
    ProcessGroup.allReduce(low, ProcessGroup.Op.MIN);
    ProcessGroup.allReduce(high, ProcessGroup.Op.MAX);
    if (low[0] != high[0]) {
      throw new IllegalArgumentException("the ranks' configurations have different keys (" + low[0] + " to "
          + high[0] + "): run the same rlhf4j version on every rank");
    }
    for (int i = 1; i < hashes.length; i++) {
      if (low[i] != high[i]) {
        throw new IllegalArgumentException("configuration key " + keys.get(i - 1) + " differs between ranks (rank "
            + rank + " has '" + values.get(keys.get(i - 1)) + "'): every rank must run the same configuration");
      }
    }
  }

  /** Fails when the ranks' weights of model are not bitwise equal, naming the ranks that drifted. */
  public void requireSameWeights(String what, Model model) {
    if (!joined) return;
    long[] mine = new long[worldSize];
    mine[rank] = model.checksum();
    ProcessGroup.allReduce(mine, ProcessGroup.Op.SUM);  // each rank's checksum, in its slot
    List<Integer> drifted = new ArrayList<>();
    for (int r = 1; r < worldSize; r++) if (mine[r] != mine[0]) drifted.add(r);
    if (!drifted.isEmpty()) {
      throw new IllegalStateException("data parallelism: the " + what + " weights of rank(s) " + drifted
          + " differ from rank 0's: the ranks drifted apart (a rank stepped with different gradients)");
    }
  }

  /** Returns when every rank has called it. */
  public void barrier() {
    if (joined) ProcessGroup.barrier();
  }

  /** Seconds this rank spent in all-reduces since it joined (0 in a single process). */
  public double allreduceSeconds() {
    return joined ? ProcessGroup.counters().allreduceSeconds() : 0;
  }

  /** Rank 0's weights on every rank. */
  public void broadcastWeights(Model model) {
    if (joined) ProcessGroup.broadcast(model, 0);
  }

  private static long fingerprint(String s) {
    byte[] b = String.valueOf(s).getBytes(StandardCharsets.UTF_8);
    long[] parts = new long[b.length + 1];
    parts[0] = b.length;
    for (int i = 0; i < b.length; i++) parts[i + 1] = b[i];
    return Seeds.mix(parts);
  }

  /** Leaves the process group; the process is a single one again. */
  @Override
  public synchronized void close() {
    if (!joined || current != this) return;
    current = SINGLE;
    Logging.setPrefix("");
    ProcessGroup.leave();
  }
}
