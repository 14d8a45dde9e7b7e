package org.rlhf4j.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Library-wide native settings and facts. Thread-safe. */
public final class Engine {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

  private Engine() {}

  /**
   * What the loaded native library is and sees. kernelThreads: the threads its own CPU kernels
   * (decoding attention, sampling, AdamW) were seen running on, of threads set.
   */
  public record BuildInfo(
      String version,
      int abi,
      String libtorch,
      String blas,
      String blasLibrary,
      String blasConfig,
      boolean cuda,
      List<String> cudaArchs,
      List<String> devices,
      int threads,
      int kernelThreads,
      String cpuCacheMode,
      String decodeKernel,
      String bf16DecodeKernel,
      String bf16Matmul,
      String json) {

    /** True when the unoptimised reference BLAS serves matrix products (~30x slower). */
    public boolean referenceBlas() {
      return blas.equals("reference");
    }

    /** True when the library's own kernels run on fewer threads than set (a build without OpenMP). */
    public boolean kernelsSerial() {
      return kernelThreads < threads;
    }
  }

  public static BuildInfo buildInfo() {
    Native lib = NativeLibrary.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment needed = arena.allocate(ValueLayout.JAVA_LONG);
      MemorySegment buf = arena.allocate(4096);
      try {
        lib.buildInfo(buf, buf.byteSize(), needed);
      } catch (NativeException e) {
        if (e.status() != Status.BUFFER_TOO_SMALL) throw e;
        buf = arena.allocate(needed.get(ValueLayout.JAVA_LONG, 0));
        lib.buildInfo(buf, buf.byteSize(), needed);
      }
      String json = buf.getString(0);
      JsonNode n = new ObjectMapper().readTree(json);
      return new BuildInfo(
          n.get("version").asText(),
          n.get("abi").asInt(),
          n.get("libtorch").asText(),
          n.get("blas").asText(),
          n.get("blas_library").asText(),
          n.get("blas_config").asText(),
          n.get("cuda").asBoolean(),
          strings(n.get("cuda_archs")),
          strings(n.get("devices")),
          n.get("threads").asInt(),
          n.get("kernel_threads").asInt(),
          n.path("cpu_cache_mode").asText(""),
          n.path("decode_kernel").asText(""),
          n.path("bf16_decode_kernel").asText(""),
          n.path("bf16_matmul").asText(""),
          json);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("the native library returned unreadable build info: " + e.getMessage(), e);
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(e -> out.add(e.asText()));
    return List.copyOf(out);
  }

  /**
   * Intra-op threads for tensor work (0 = one per core). Process-wide. More threads than cores
   * only oversubscribe them (and each costs a stack): warned here, refused by the job service.
   */
  public static void setThreads(int threads) {
    int cores = Runtime.getRuntime().availableProcessors();
    if (threads > cores) {
      LOG.warn("run.threads {} is more than this machine's {} cores: the extra threads only compete for them",
          threads, cores);
    }
    NativeLibrary.get().setNumThreads(threads);
  }

  /** This machine's float32 GEMM rate on device (best of iterations n x n x n products), GFLOP/s. */
  public static double gemmGflops(String device, int n, int iterations) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
      NativeLibrary.get().gemmGflops(arena.allocateFrom(device), n, iterations, out);
      return out.get(ValueLayout.JAVA_DOUBLE, 0);
    }
  }

  /**
   * The GEMM reference rate for dtype on device: the best over the paths the library uses for
   * that dtype (r4j_gemm_rate). json: {"gflops","best","paths":[{"name","gflops","n","note"}]}.
   */
  public record GemmRate(double gflops, String best, String json) {}

  public static GemmRate gemmRate(String device, DType dtype, int n, int iterations) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
      MemorySegment needed = arena.allocate(ValueLayout.JAVA_LONG);
      MemorySegment buf = arena.allocate(8192);  // the JSON of two or three paths takes well under 1 KiB
      NativeLibrary.get().gemmRate(arena.allocateFrom(device), dtype.code(), n, iterations, out, buf, buf.byteSize(), needed);
      String json = buf.getString(0);
      return new GemmRate(out.get(ValueLayout.JAVA_DOUBLE, 0), new ObjectMapper().readTree(json).get("best").asText(), json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("r4j_gemm_rate wrote malformed JSON", e);
    }
  }

  /**
   * Benchmarks only (r4j_bench_force_lengths): from now on row b of every generation in this
   * process stops after lengths[b % n] tokens as if it had produced EOS there, since random
   * weights never choose EOS. Empty: off. Process-wide.
   */
  public static void benchForceLengths(int[] lengths) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment seg = lengths.length == 0 ? MemorySegment.NULL : arena.allocateFrom(ValueLayout.JAVA_INT, lengths);
      NativeLibrary.get().benchForceLengths(seg, lengths.length);
    }
  }

  /**
   * Hands back to the system what the native library keeps for reuse (the CPU cache's free pages,
   * the C heap's free pages): between stages of one process, so the next stage's peak RSS is its
   * own. Live tensors stay. Process-wide.
   */
  public static void releaseCachedMemory() {
    NativeLibrary.get().releaseCachedMemory();
  }

  /** Seeds the generator behind dropout. Process-wide. */
  public static void manualSeed(long seed) {
    NativeLibrary.get().manualSeed(seed);
  }
}
