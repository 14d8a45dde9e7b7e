package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.Optimizer;
import org.rlhf4j.engine.TensorInfo;

/** Named tensors as plain bytes, for building weight files by hand and comparing models. */
record ModelTensors(Map<String, TensorInfo> infos, Map<String, byte[]> bytes) {
  static ModelTensors of(Model model) {
    return read(model::tensors, (t, dst) -> model.readTensor(t.name(), t.dtype(), dst));
  }

  static ModelTensors of(Optimizer optimizer) {
    return read(optimizer::tensors, (t, dst) -> optimizer.readTensor(t.name(), t.dtype(), dst));
  }

  private static ModelTensors read(Supplier<List<TensorInfo>> list, BiConsumer<TensorInfo, MemorySegment> reader) {
    Map<String, TensorInfo> infos = new LinkedHashMap<>();
    Map<String, byte[]> bytes = new LinkedHashMap<>();
    try (Arena arena = Arena.ofConfined()) {
      for (TensorInfo t : list.get()) {
        MemorySegment dst = arena.allocate(t.numel() * t.dtype().size());
        reader.accept(t, dst);
        infos.put(t.name(), t);
        bytes.put(t.name(), dst.toArray(ValueLayout.JAVA_BYTE));
      }
    }
    return new ModelTensors(infos, bytes);
  }

  List<String> names() {
    return new ArrayList<>(infos.keySet());
  }

  /** A copy with each name mapped (null drops the tensor). */
  ModelTensors renamed(Function<String, String> rename) {
    ModelTensors out = new ModelTensors(new LinkedHashMap<>(), new LinkedHashMap<>());
    infos.forEach((name, t) -> {
      String to = rename.apply(name);
      if (to != null) out.put(new TensorInfo(to, t.dtype(), t.shape()), bytes.get(name));
    });
    return out;
  }

  ModelTensors put(TensorInfo info, byte[] data) {
    infos.put(info.name(), info);
    bytes.put(info.name(), data);
    return this;
  }

  void write(Path file) {
    SafetensorsWriterTest.write(file, new ArrayList<>(infos.values()), bytes, Map.of("format", "pt"));
  }

  /** Asserts both hold the same names, dtypes, shapes and bytes. */
  static void assertSame(ModelTensors expected, ModelTensors actual) {
    assertEquals(expected.names(), actual.names());
    for (String name : expected.names()) {
      assertEquals(expected.infos.get(name), actual.infos.get(name));
      assertArrayEquals(expected.bytes.get(name), actual.bytes.get(name), name);
    }
  }

  static byte[] floatBytes(float[] values) {
    return MemorySegment.ofArray(values).toArray(ValueLayout.JAVA_BYTE);
  }

  static TensorInfo info(String name, DType dtype, long... shape) {
    return new TensorInfo(name, dtype, shape);
  }
}
