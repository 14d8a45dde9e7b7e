package org.rlhf4j.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.engine.TokenBatch;
import org.rlhf4j.models.LlamaReference.Rope;

/**
 * Tiny random checkpoints written here in Hugging Face's layout (config.json as transformers
 * writes it, tensors under HF's names and layouts) load through {@link Checkpoint}, and the
 * native model's logits match the slow double-precision references {@link Gpt2Reference} and
 * {@link LlamaReference} computed from the same weights.
 */
class HfLogitsTest {
  /** fp32 against double: absolute for logits up to 1, relative above. */
  private static final double TOLERANCE = 1e-5;
  /** bf16 activations: 8 significant bits, rounded at every op of two layers. */
  private static final double BF16_TOLERANCE = 0.15;

  /** Sequences of several lengths, batched padded right and then left. */
  private static final List<int[]> SEQUENCES = List.of(new int[] {3, 17, 5, 9, 30, 2, 11, 11, 0}, new int[] {7},
      new int[] {40, 8, 8, 1, 12});

  private static final Gpt2Reference.Spec GPT2 = new Gpt2Reference.Spec(48, 16, 16, 2, 4, 64, 1e-5);

  @TempDir Path tmp;

  /** Writes config and weights (in dtype, one file) into a fresh directory. */
  private Path hfDir(String name, Map<String, Object> config, HfTensors weights, DType dtype) {
    Path dir = tmp.resolve(name);
    HfTensors.writeJson(dir.resolve("config.json"), config);
    weights.writeSingle(dir, dtype);
    return dir;
  }

  private static Model load(Path dir, UnaryOperator<ModelConfig> adjust, int tensors) {
    Checkpoint.Loaded loaded = Checkpoint.open(dir).loadModel("cpu", adjust, LoadOptions.strict());
    assertEquals(tensors, loaded.report().loaded().size(), "every tensor of the file is loaded");
    assertTrue(loaded.report().ignored().isEmpty(), () -> "ignored " + loaded.report().ignored());
    return loaded.model();
  }

  /** The model's logits at every real position of SEQUENCES, padded either way, against reference. */
  private static void assertLogitsMatch(Model model, Function<int[], double[][]> reference, double tolerance) {
    int vocab = (int) model.config().vocabSize();
    double largest = 0;
    for (boolean left : new boolean[] {false, true}) {
      TokenBatch batch = left ? TokenBatch.leftPadded(SEQUENCES, 0) : TokenBatch.rightPadded(SEQUENCES, 0);
      float[] got = model.logits(batch);
      for (int b = 0; b < SEQUENCES.size(); b++) {
        int[] seq = SEQUENCES.get(b);
        int offset = left ? batch.seqLen() - seq.length : 0;
        double[][] expected = reference.apply(seq);
        for (int t = 0; t < seq.length; t++) {
          for (int v = 0; v < vocab; v++) {
            double e = expected[t][v];
            double g = got[((b * batch.seqLen()) + offset + t) * vocab + v];
            largest = Math.max(largest, Math.abs(e));
            if (!(Math.abs(g - e) <= tolerance * Math.max(1, Math.abs(e)))) {
              fail("sequence " + b + " (padded " + (left ? "left" : "right") + "), position " + t + ", token " + v
                  + ": logit " + g + ", reference " + e);
            }
          }
        }
      }
    }
    assertTrue(largest > 1, "the logits are large enough for the comparison to mean something: " + largest);
  }

  /** The largest difference between two references' logits over SEQUENCES. */
  private static double largestDifference(Function<int[], double[][]> a, Function<int[], double[][]> b) {
    double max = 0;
    for (int[] seq : SEQUENCES) {
      double[][] x = a.apply(seq), y = b.apply(seq);
      for (int t = 0; t < seq.length; t++) {
        for (int v = 0; v < x[t].length; v++) max = Math.max(max, Math.abs(x[t][v] - y[t][v]));
      }
    }
    return max;
  }

  @Test
  void gpt2InOneFile() {
    HfTensors w = Gpt2Reference.randomWeights(GPT2, 1);
    Path dir = hfDir("gpt2", GPT2.config("float32"), w, DType.F32);
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertEquals(ModelConfig.Arch.GPT2, m.config().arch());
      assertLogitsMatch(m, seq -> Gpt2Reference.logits(GPT2, w, seq), TOLERANCE);
    }
  }

  @Test
  void gpt2InShardsWithItsOwnMlpWidth() {
    Gpt2Reference.Spec spec = new Gpt2Reference.Spec(48, 16, 16, 2, 2, 40, 1e-6);
    HfTensors w = Gpt2Reference.randomWeights(spec, 2);
    Path dir = tmp.resolve("sharded");
    HfTensors.writeJson(dir.resolve("config.json"), spec.config("float32"));
    List<String> names = w.names();
    w.writeSharded(dir, DType.F32, List.of(names.stream().filter(n -> !n.contains(".h.1.")).toList(),
        names.stream().filter(n -> n.contains(".h.1.")).toList()));
    try (Model m = load(dir, c -> c, names.size())) {
      assertEquals(40, m.config().nInner());
      assertLogitsMatch(m, seq -> Gpt2Reference.logits(spec, w, seq), TOLERANCE);
    }
  }

  @Test
  void gpt2InBf16() {
    HfTensors w = Gpt2Reference.randomWeights(GPT2, 3).roundToBf16();
    Path dir = hfDir("bf16", GPT2.config("bfloat16"), w, DType.BF16);
    assertEquals(DType.BF16, Checkpoint.open(dir).config().model().dtype(), "torch_dtype gives the dtype");
    // Widened to fp32, the bf16 values are exact: the reference runs on the same numbers.
    try (Model m = load(dir, c -> c.withDtype(DType.F32), w.names().size())) {
      assertLogitsMatch(m, seq -> Gpt2Reference.logits(GPT2, w, seq), TOLERANCE);
    }
    // Computing in bf16 too, the logits keep bf16's precision.
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertEquals(DType.BF16, m.tensors().getFirst().dtype());
      assertLogitsMatch(m, seq -> Gpt2Reference.logits(GPT2, w, seq), BF16_TOLERANCE);
    }
  }

  /** Llama 3.1's shape in small: head size 8, theta 5e5, GQA, untied head, llama3 rope scaling. */
  @Test
  void llamaWithLlama3RopeScalingAndGroupedQueryAttention() {
    // Wavelengths 6.3 and 167 and 4443 and 1.2e5 positions: one stays, one is blended, two are scaled.
    Rope llama3 = new Rope("llama3", 8, 1, 4, 512);
    LlamaReference.Spec spec = new LlamaReference.Spec("llama", 48, 16, 32, 2, 4, 2, 48, 1e-5, 5e5, llama3, false);
    HfTensors w = LlamaReference.randomWeights(spec, 4);
    Path dir = hfDir("llama", spec.config("float32"), w, DType.F32);
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertEquals(ModelConfig.RopeScaling.LLAMA3, m.config().ropeScaling());
      assertEquals(2, m.config().nKvHead());
      assertLogitsMatch(m, seq -> LlamaReference.logits(spec, w, seq), TOLERANCE);
    }
    assertTrue(largestDifference(seq -> LlamaReference.logits(spec, w, seq),
        seq -> LlamaReference.logits(spec.withRope(Rope.NONE), w, seq)) > 1e-2, "the scaling matters here");
  }

  @Test
  void qwen2WithQkvBiasesAndOneKvHead() {
    LlamaReference.Spec spec = new LlamaReference.Spec("qwen2", 48, 16, 32, 2, 4, 1, 64, 1e-6, 1e6, Rope.NONE, false);
    HfTensors w = LlamaReference.randomWeights(spec, 5);
    Path dir = hfDir("qwen2", spec.config("float32"), w, DType.F32);
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertTrue(m.config().attentionBias());
      assertEquals(1e6, m.config().ropeTheta());
      assertLogitsMatch(m, seq -> LlamaReference.logits(spec, w, seq), TOLERANCE);
    }
  }

  /**
   * Qwen3's shape in small: q/k RMSNorm per head, 4 heads of 10 over hidden_size 24 (head_dim
   * apart from hidden_size / heads), 2 kv heads, no biases, tied head, theta 1e6.
   */
  private static final LlamaReference.Spec QWEN3 =
      new LlamaReference.Spec("qwen3", 48, 16, 24, 2, 4, 2, 40, 1e-6, 1e6, Rope.NONE, true, 10);

  @Test
  void qwen3WithQkNormsItsOwnHeadSizeAndTiedHead() {
    HfTensors w = LlamaReference.randomWeights(QWEN3, 7);
    Path dir = hfDir("qwen3", QWEN3.config("float32"), w, DType.F32);
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertEquals(10, m.config().headDim());
      assertTrue(m.config().qkNorm());
      assertTrue(m.config().tieWordEmbeddings());
      assertLogitsMatch(m, seq -> LlamaReference.logits(QWEN3, w, seq), TOLERANCE);
    }
  }

  @Test
  void qwen3InBf16() {
    HfTensors w = LlamaReference.randomWeights(QWEN3, 8).roundToBf16();
    Path dir = hfDir("qwen3-bf16", QWEN3.config("bfloat16"), w, DType.BF16);
    try (Model m = load(dir, c -> c.withDtype(DType.F32), w.names().size())) {
      assertLogitsMatch(m, seq -> LlamaReference.logits(QWEN3, w, seq), TOLERANCE);
    }
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertEquals(DType.BF16, m.tensors().getFirst().dtype());
      assertLogitsMatch(m, seq -> LlamaReference.logits(QWEN3, w, seq), BF16_TOLERANCE);
    }
  }

  @Test
  void mistralWithLinearRopeScalingAndTiedHead() {
    LlamaReference.Spec spec =
        new LlamaReference.Spec("mistral", 48, 16, 24, 2, 2, 2, 40, 1e-5, 10000, Rope.linear(4), true);
    HfTensors w = LlamaReference.randomWeights(spec, 6);
    Path dir = hfDir("mistral", spec.config("float32"), w, DType.F32);
    try (Model m = load(dir, c -> c, w.names().size())) {
      assertTrue(m.config().tieWordEmbeddings());
      assertLogitsMatch(m, seq -> LlamaReference.logits(spec, w, seq), TOLERANCE);
    }
    assertTrue(largestDifference(seq -> LlamaReference.logits(spec, w, seq),
        seq -> LlamaReference.logits(spec.withRope(Rope.NONE), w, seq)) > 1e-2, "the scaling matters here");
  }
}
