package org.rlhf4j.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/**
 * The native library's data-parallel process group (c10d: a TCPStore rendezvous and Gloo, NCCL
 * for CUDA tensors). One per process. While it is joined, optimizer steps average gradients
 * over ranks and advantage whitening takes its statistics from all ranks; the methods here
 * reduce the caller's own statistics. Every rank must call the collectives in the same order.
 * Thread-safe (the native group serialises its collectives).
 */
public final class ProcessGroup {
  private ProcessGroup() {}

  /** How a reduction combines the ranks' values. */
  public enum Op {
    SUM, MAX, MIN
  }

  /** Where this process sits in the job: torchrun's contract. */
  public record Member(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr,
      int masterPort, boolean agentStore, int restartCount, boolean nccl, Duration timeout) {}

  /** Joins the group; fails within member.timeout() when the others or the master do not come. */
  public static void join(Member m) {
    Native lib = NativeLibrary.get();
    Struct layout = Layouts.DIST_OPTIONS;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o = arena.allocate(layout.layout());
      lib.distOptionsDefaults(o);
      layout.set(o, "rank", m.rank());
      layout.set(o, "world_size", m.worldSize());
      layout.set(o, "local_rank", m.localRank());
      layout.set(o, "local_world_size", m.localWorldSize());
      layout.set(o, "master_port", m.masterPort());
      layout.set(o, "use_agent_store", m.agentStore() ? 1 : 0);
      layout.set(o, "restart_count", m.restartCount());
      layout.set(o, "backend", m.nccl() ? 1 : 0);
      layout.set(o, "timeout_ms", Math.max(1, m.timeout().toMillis()));
      lib.distInit(arena.allocateFrom(m.masterAddr()), o);
    }
  }

  /** Leaves the group (a no-op when none was joined). */
  public static void leave() {
    NativeLibrary.get().distShutdown();
  }

  /** Element-wise over all ranks, in place. */
  public static void allReduce(double[] values, Op op) {
    if (values.length == 0) return;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
      NativeLibrary.get().distAllReduce(DType.F64.code(), buf, values.length, op.ordinal());
      MemorySegment.copy(buf, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
    }
  }

  /** Element-wise over all ranks, in place. */
  public static void allReduce(long[] values, Op op) {
    if (values.length == 0) return;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_LONG, values);
      NativeLibrary.get().distAllReduce(DType.I64.code(), buf, values.length, op.ordinal());
      MemorySegment.copy(buf, ValueLayout.JAVA_LONG, 0, values, 0, values.length);
    }
  }

  /** Every rank's model takes root's weights. */
  public static void broadcast(Model model, int root) {
    NativeLibrary.get().distBroadcastModel(model.pointer(), root);
  }

  public static void barrier() {
    NativeLibrary.get().distBarrier();
  }

  /** Time and payload of this rank's all-reduces since it joined. */
  public record Counters(double allreduceSeconds, long allreduceBytes, long allreduceCalls) {}

  public static Counters counters() {
    Struct layout = Layouts.DIST_COUNTERS;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment c = arena.allocate(layout.layout());
      NativeLibrary.get().distCountersRead(c);
      return new Counters(layout.getDouble(c, "allreduce_seconds"), layout.getLong(c, "allreduce_bytes"),
          layout.getLong(c, "allreduce_calls"));
    }
  }
}
