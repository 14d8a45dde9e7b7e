package org.rlhf4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * The bench's JSON line carries what a reader needs to judge it: the dtype, the phases, the
 * GEMM reference rate with the path that produced it and every path timed, and the learn
 * phase's share of it or, above 100%, a measurement error instead. Timings are never asserted.
 */
class PpoBenchJsonTest {
  @ParameterizedTest
  @ValueSource(strings = {"f32", "bf16"})
  void jsonCarriesTheDtypeThePhasesAndTheGemmRateWithItsPath(String dtype) throws Exception {
    JsonNode r = run("--dtype", dtype, "--layers", "1", "--d-model", "32", "--heads", "2", "--vocab", "64",
        "--batch", "4", "--prompt-len", "8", "--new-tokens", "8", "--minibatch", "2", "--epochs", "1",
        "--gemm-size", "128");
    assertTrue(r.has("decode_kernel") && r.has("bf16_decode_kernel") && r.has("bf16_matmul")
        && r.has("cpu_cache_mode"), r.toString());
    assertTrue(r.get("read_gbps").asDouble() > 0, "the machine's read bandwidth is measured: " + r);
    assertTrue(r.get("rollout_fraction_of_read_bandwidth").asDouble() > 0, r.toString());
    assertEquals(dtype, r.get("dtype").asText());
    for (String share : new String[] {"other_cpu_share", "steal_share"}) {
      double v = r.get(share).asDouble(-1);
      assertTrue(v >= 0 && v <= 1, "the machine's load while timed: " + share + " in " + r);
    }
    for (String phase : new String[] {"rollout", "ref", "reward", "learn"}) {
      assertTrue(r.get("seconds").get(phase).asDouble() > 0, phase);
    }
    double optimizer = r.get("seconds").get("optimizer").asDouble();
    assertTrue(optimizer > 0 && optimizer < r.get("seconds").get("learn").asDouble(),
        "the optimizer steps are timed as a part of learn: " + r.get("seconds"));
    JsonNode gemm = r.get("gemm");
    assertEquals(r.get("gemm_path").asText(), gemm.get("best").asText());
    double rate = r.get("gemm_gflops").asDouble();
    assertEquals(rate, gemm.get("gflops").asDouble(), 1e-5 * rate, "the JSON prints 6 significant digits");
    assertTrue(gemm.get("paths").size() >= 1);
    double best = 0;
    for (JsonNode p : gemm.get("paths")) {
      assertFalse(p.get("name").asText().isEmpty());
      best = Math.max(best, p.get("gflops").asDouble());
    }
    assertEquals(best, gemm.get("gflops").asDouble(), 1e-9, "the rate is the best path's");
    JsonNode fraction = r.get("learn_fraction_of_gemm");
    if (fraction.isNull()) {
      assertTrue(r.get("measurement_error").asText().contains("GEMM reference rate"), r.toString());
    } else {
      assertTrue(fraction.asDouble() > 0 && fraction.asDouble() <= 1, r.toString());
      assertTrue(r.get("measurement_error").isNull());
    }
  }

  /**
   * The GRPO workload on a tiny shape: the forced ragged lengths are what was generated (the
   * bench refuses to report otherwise), its token counts are those lengths', and a token budget
   * of 1 (each sample alone) leaves no padding in the learning passes.
   */
  @org.junit.jupiter.api.Test
  void grpoWorkloadReportsRealTokensAndPaddingWaste() throws Exception {
    String[] tiny = {"--workload", "grpo", "--layers", "1", "--d-model", "32", "--heads", "2", "--vocab", "64",
        "--batch", "2", "--samples", "4", "--prompt-len", "8", "--new-tokens", "12", "--min-new-tokens", "2",
        "--minibatch", "4", "--gemm-size", "128"};
    JsonNode r = run(tiny);
    int[] lengths = GrpoWorkload.lengths(8, 2, 12);
    long generated = java.util.Arrays.stream(lengths).sum();
    assertEquals("grpo", r.get("workload").asText());
    assertEquals(generated, r.get("generated_tokens").asLong());
    assertEquals(generated + 8 * 8, r.get("trained_tokens").asLong(), "prompt + response tokens, one epoch");
    assertTrue(r.get("live_generated_tokens_per_s").asDouble() > 0, r.toString());
    assertTrue(r.get("trained_tokens_per_s").asDouble() > 0, r.toString());
    double waste = r.get("padding_waste").asDouble();
    assertTrue(waste > 0 && waste < 1, "ragged lengths in a minibatch of 4 pad: " + r);
    int longest = java.util.Arrays.stream(lengths).max().orElseThrow();
    assertEquals(1 - (double) generated / (8 * longest), r.get("static_decoding_padding_waste").asDouble(), 1e-12);
    for (String phase : new String[] {"rollout", "ref", "reward", "learn"}) {
      assertTrue(r.get("seconds").get(phase).asDouble() > 0, phase);
    }
    double optimizer = r.get("seconds").get("optimizer").asDouble();
    assertTrue(optimizer > 0 && optimizer < r.get("seconds").get("learn").asDouble(),
        "the optimizer steps are timed as a part of learn: " + r.get("seconds"));
    assertTrue(r.get("peak_rss_gb").asDouble() > 0, r.toString());
    assertTrue(java.util.List.of("bounded", "keep", "off").contains(r.get("cpu_cache_mode").asText()), r.toString());
    String[] alone = java.util.Arrays.copyOf(tiny, tiny.length + 2);
    alone[tiny.length] = "--max-tokens-per-micro-batch";
    alone[tiny.length + 1] = "1";
    assertEquals(0.0, run(alone).get("padding_waste").asDouble(), "a micro-batch per sample pads nothing");
    String[] shorter = java.util.Arrays.copyOf(tiny, tiny.length + 2);
    shorter[tiny.length] = "--max-forced-length";
    shorter[tiny.length + 1] = "6";
    JsonNode s = run(shorter);
    assertEquals(java.util.Arrays.stream(GrpoWorkload.lengths(8, 2, 6)).sum(), s.get("generated_tokens").asLong(),
        "rows stop at lengths in [2, 6] while max_new_tokens stays 12: " + s);
    assertEquals(12, s.get("max_new_tokens").asInt());
    assertEquals(6, s.get("max_forced_length").asInt());
  }

  /**
   * The supervised workload on a tiny shape: its batch is the seeded ragged one (real tokens,
   * loss tokens on each row's second half, padding to the longest), and each pass is timed.
   */
  @org.junit.jupiter.api.Test
  void supervisedWorkloadTimesEachPassOverItsRaggedBatch() throws Exception {
    JsonNode r = run("--workload", "supervised", "--layers", "1", "--d-model", "32", "--heads", "2", "--vocab", "64",
        "--batch", "4", "--min-new-tokens", "3", "--new-tokens", "20", "--gemm-size", "128");
    SupervisedWorkload.Batch batch = SupervisedWorkload.batch(4, 3, 20, 64);
    long real = 0;
    long loss = 0;
    for (int i = 0; i < 4; i++) {
      int len = 0;
      for (int t = 0; t < batch.tokens().seqLen(); t++) len += batch.tokens().mask()[i * batch.tokens().seqLen() + t];
      real += len;
      loss += len - len / 2;
    }
    assertEquals("supervised", r.get("workload").asText());
    assertEquals(real, r.get("real_tokens").asLong());
    assertEquals(loss, r.get("loss_tokens").asLong());
    assertEquals(1 - (double) real / (4 * batch.tokens().seqLen()), r.get("batch_padding").asDouble(), 1e-12);
    assertTrue(r.get("batch_padding").asDouble() > 0, "ragged rows pad: " + r);
    for (String pass : new String[] {"sft", "sequence_logps", "rm"}) {
      assertTrue(r.get("seconds").get(pass).asDouble() > 0, pass);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"f16", "fp8"})
  void anUnknownDtypeIsAUsageError(String dtype) {
    PrintStream err = System.err;
    try {
      System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
      assertEquals(2, new CommandLine(new PpoBench()).execute("--dtype", dtype, "--gemm-size", "64"));
    } finally {
      System.setErr(err);
    }
  }

  private static JsonNode run(String... args) throws Exception {
    return InProcessBench.lastJson(InProcessBench.output(args));
  }
}
