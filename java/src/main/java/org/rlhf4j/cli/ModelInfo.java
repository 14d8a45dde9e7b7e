package org.rlhf4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * What {@code info --model} shows of a model directory: its kind, shape, heads and tokenizer.
 * Read from config.json and the tokenizer files only, so it needs neither the weights in memory
 * nor the native library. Immutable.
 *
 * @param dir the model directory (a run directory already resolved to its newest checkpoint)
 * @param architecture config.json's first "architectures" entry, or null
 * @param tokenizer the tokenizer found, or null (then tokenizerProblem says why)
 */
record ModelInfo(Path dir, HfConfig config, String architecture, Tokenizer tokenizer, String tokenizerProblem) {
  private static final ObjectMapper JSON = new ObjectMapper();

  static ModelInfo of(Path dir) {
    HfConfig config;
    String architecture;
    try {
      config = Checkpoint.open(dir).config();
      JsonNode archs = JSON.readTree(dir.resolve(Checkpoint.CONFIG).toFile()).get("architectures");
      architecture = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
    } catch (CheckpointException | IllegalArgumentException | IOException e) {
      throw new UsageException("--model: " + e.getMessage());
    }
    try {
      return new ModelInfo(dir, config, architecture, Tokenizers.load(dir), null);
    } catch (IOException e) {
      return new ModelInfo(dir, config, architecture, null, e.getMessage());
    }
  }

  void print(PrintWriter out) {
    ModelConfig m = config.model();
    out.printf("model        %s%n", dir);
    out.printf("kind         %s%s%n", config.modelType(), architecture == null ? "" : " (" + architecture + ")");
    out.printf(Locale.ROOT, "parameters   %,d (%s)%n", m.parameterCount(), human(m.parameterCount()));
    out.printf("dtype        %s%n", dtypeName(m.dtype()));
    out.printf("vocab        %d%n", m.vocabSize());
    out.printf("context      %d%n", m.nPositions());
    out.printf("layers       %d%n", m.nLayer());
    out.printf("heads        %d (kv heads %d)%n", m.nHead(), m.nKvHead());
    out.printf("head size    %d%s%n", m.headDim(), m.qkNorm() ? " (q/k normalised per head)" : "");
    out.printf("width        %d (mlp %d)%n", m.nEmbd(), m.nInner());
    out.printf("value head   %s%n", m.valueHead() ? "yes" : "no");
    out.printf("reward head  %s%n", m.rewardHead() ? "yes" : "no");
    if (tokenizer == null) {
      out.printf("tokenizer    none: %s%n", tokenizerProblem);
    } else {
      out.printf("tokenizer    %s, vocab %d, bos %s, eos %s, pad %s%n", tokenizer.getClass().getSimpleName(),
          tokenizer.vocabSize(), special(tokenizer.bosId()), special(tokenizer.eosId()), special(tokenizer.padId()));
    }
  }

  ObjectNode json() {
    ModelConfig m = config.model();
    ObjectNode o = JSON.createObjectNode();
    o.put("model", dir.toString());
    o.put("model_type", config.modelType());
    o.put("architecture", architecture);
    o.put("parameters", m.parameterCount());
    o.put("dtype", dtypeName(m.dtype()));
    o.put("vocab_size", m.vocabSize());
    o.put("context_length", m.nPositions());
    o.put("layers", m.nLayer());
    o.put("heads", m.nHead());
    o.put("kv_heads", m.nKvHead());
    o.put("head_dim", m.headDim());
    o.put("qk_norm", m.qkNorm());
    o.put("width", m.nEmbd());
    o.put("mlp_width", m.nInner());
    o.put("value_head", m.valueHead());
    o.put("reward_head", m.rewardHead());
    if (tokenizer == null) {
      o.putNull("tokenizer");
      o.put("tokenizer_problem", tokenizerProblem);
    } else {
      ObjectNode t = o.putObject("tokenizer");
      t.put("class", tokenizer.getClass().getSimpleName());
      t.put("vocab_size", tokenizer.vocabSize());
      t.put("bos", tokenizer.bosId());
      t.put("eos", tokenizer.eosId());
      t.put("pad", tokenizer.padId());
    }
    return o;
  }

  /** "2 (<eos>)", or "none" for -1. */
  private String special(int id) {
    return id < 0 ? "none" : id + " (" + tokenizer.decode(new int[] {id}, false) + ")";
  }

  private static String dtypeName(DType d) {
    return switch (d) {
      case F32 -> "float32";
      case F16 -> "float16";
      case BF16 -> "bfloat16";
      case F64 -> "float64";
      default -> d.name().toLowerCase(Locale.ROOT);
    };
  }

  /** 124.4M, 1.2B, 31.2K. */
  private static String human(long n) {
    if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.1fB", n / 1e9);
    if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.1fM", n / 1e6);
    if (n >= 1_000L) return String.format(Locale.ROOT, "%.1fK", n / 1e3);
    return Long.toString(n);
  }
}
