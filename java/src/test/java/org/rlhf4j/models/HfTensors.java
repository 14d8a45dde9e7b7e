package org.rlhf4j.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.rlhf4j.checkpoint.SafetensorsWriter;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.TensorInfo;

/**
 * Named float tensors in Hugging Face's names and layouts, as a test makes them for a tiny
 * checkpoint: written to safetensors (F32 or BF16, one file or shards) and read by the slow
 * references. Not thread-safe.
 */
final class HfTensors {
  /** Row-major values of the given shape. */
  record Tensor(long[] shape, float[] values) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  /** safetensors stores little-endian. */
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Map<String, Tensor> tensors = new LinkedHashMap<>();
  private final Random random;

  HfTensors(long seed) {
    this.random = new Random(seed);
  }

  /** Adds a tensor of mean + std * N(0, 1) entries. */
  HfTensors normal(String name, double mean, double std, long... shape) {
    long n = 1;
    for (long d : shape) n *= d;
    float[] values = new float[Math.toIntExact(n)];
    for (int i = 0; i < values.length; i++) values[i] = (float) (mean + std * random.nextGaussian());
    tensors.put(name, new Tensor(shape.clone(), values));
    return this;
  }

  Tensor get(String name) {
    Tensor t = tensors.get(name);
    if (t == null) throw new IllegalArgumentException("no tensor " + name);
    return t;
  }

  List<String> names() {
    return new ArrayList<>(tensors.keySet());
  }

  /** Rounds every value to bfloat16 (nearest even, as torch does): what a BF16 file holds. */
  HfTensors roundToBf16() {
    for (Tensor t : tensors.values()) {
      float[] v = t.values();
      for (int i = 0; i < v.length; i++) v[i] = Float.intBitsToFloat(bf16Bits(v[i]) << 16);
    }
    return this;
  }

  /** The upper 16 bits of x's float32 pattern after rounding to nearest even. */
  static int bf16Bits(float x) {
    int bits = Float.floatToRawIntBits(x);
    return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  }

  /** Writes the tensors named into file in dtype (F32, or BF16 of already-rounded values). */
  void write(Path file, DType dtype, List<String> names) {
    if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("F32 or BF16, not " + dtype);
    List<TensorInfo> infos = names.stream().map(n -> new TensorInfo(n, dtype, get(n).shape())).toList();
    SafetensorsWriter.write(file, infos, Map.of("format", "pt"), (t, dst) -> {
      float[] v = get(t.name()).values();
      for (int i = 0; i < v.length; i++) {
        if (dtype == DType.F32) {
          dst.setAtIndex(F32, i, v[i]);
        } else {
          int bits = bf16Bits(v[i]);
          if (Float.intBitsToFloat(bits << 16) != v[i]) throw new IllegalStateException(t.name() + " is not rounded");
          dst.setAtIndex(BF16, i, (short) bits);
        }
      }
    });
  }

  /** dir/model.safetensors holding every tensor. */
  void writeSingle(Path dir, DType dtype) {
    write(dir.resolve("model.safetensors"), dtype, names());
  }

  /**
   * Shards as transformers' save_pretrained writes them: model-0000i-of-0000n.safetensors
   * holding shards.get(i - 1), and model.safetensors.index.json mapping each tensor to its file.
   */
  void writeSharded(Path dir, DType dtype, List<List<String>> shards) {
    ObjectNode index = JSON.createObjectNode();
    long total = 0;
    ObjectNode weightMap = JSON.createObjectNode();
    for (int i = 0; i < shards.size(); i++) {
      String file = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      write(dir.resolve(file), dtype, shards.get(i));
      for (String name : shards.get(i)) {
        weightMap.put(name, file);
        total += (long) get(name).values().length * dtype.size();
      }
    }
    index.putObject("metadata").put("total_size", total);
    index.set("weight_map", weightMap);
    writeJson(dir.resolve("model.safetensors.index.json"), index);
  }

  /** Writes a config.json (or any JSON) given as nested maps and lists. */
  static void writeJson(Path file, Object content) {
    try {
      Files.createDirectories(file.getParent());
      JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

}
