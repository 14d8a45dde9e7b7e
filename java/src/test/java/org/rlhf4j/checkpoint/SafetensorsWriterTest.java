package org.rlhf4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.TensorInfo;

class SafetensorsWriterTest {
  @TempDir Path tmp;

  /** Writes tensors whose bytes are given per name. */
  static void write(Path file, List<TensorInfo> tensors, Map<String, byte[]> bytes, Map<String, String> metadata) {
    SafetensorsWriter.write(file, tensors, metadata,
        (t, dst) -> MemorySegment.copy(MemorySegment.ofArray(bytes.get(t.name())), 0, dst, 0, dst.byteSize()));
  }

  @Test
  void writesTheByteLayoutOfTheFormat() throws IOException {
    Path f = tmp.resolve("one.safetensors");
    write(f, List.of(new TensorInfo("a", DType.F32, new long[] {2})), Map.of("a", SafetensorsTestFiles.floats(2)), Map.of());
    byte[] bytes = Files.readAllBytes(f);
    String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    int padded = (json.length() + 7) / 8 * 8;
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(padded, b.getLong());
    byte[] header = new byte[padded];
    b.get(header);
    assertEquals(json + " ".repeat(padded - json.length()), new String(header, StandardCharsets.UTF_8));
    assertEquals(1.0f, b.getFloat());
    assertEquals(2.0f, b.getFloat());
    assertEquals(8 + padded + 8, bytes.length);
  }

  @Test
  void roundTripsEveryDtypeByteForByteWithAlignedData() {
    Random random = new Random(42);
    List<TensorInfo> tensors = List.of(
        new TensorInfo("u8", DType.U8, new long[] {3}),
        new TensorInfo("half", DType.F16, new long[] {1, 3}),
        new TensorInfo("weights", DType.F32, new long[] {2, 3}),
        new TensorInfo("brain", DType.BF16, new long[] {5}),
        new TensorInfo("step", DType.F64, new long[] {1}),
        new TensorInfo("ids", DType.I32, new long[] {3}),
        new TensorInfo("empty", DType.F32, new long[] {0, 4}),
        new TensorInfo("count", DType.I64, new long[] {}));
    Map<String, byte[]> bytes = new HashMap<>();
    for (TensorInfo t : tensors) {
      byte[] data = new byte[(int) (t.numel() * t.dtype().size())];
      random.nextBytes(data);
      bytes.put(t.name(), data);
    }
    Path f = tmp.resolve("all.safetensors");
    write(f, tensors, bytes, Map.of("format", "pt", "note", "round trip"));
    try (SafetensorsFile file = SafetensorsFile.open(f)) {
      assertEquals(Map.of("format", "pt", "note", "round trip"), file.metadata());
      // Largest elements first, the caller's order kept within a size.
      assertEquals(List.of("step", "count", "weights", "ids", "empty", "half", "brain", "u8"),
          file.tensors().stream().map(TensorEntry::name).toList());
      for (TensorInfo t : tensors) {
        TensorEntry e = file.find(t.name()).orElseThrow();
        assertEquals(t, e.info());
        assertEquals(0, e.begin() % t.dtype().size(), t.name() + " is not aligned");
        assertArrayEquals(bytes.get(t.name()), file.data(e).toArray(ValueLayout.JAVA_BYTE), t.name());
      }
    }
  }

  @Test
  void rejectsRepeatedAndReservedNames() {
    TensorInfo a = new TensorInfo("a", DType.U8, new long[] {1});
    Map<String, byte[]> bytes = Map.of("a", new byte[1]);
    assertThrows(IllegalArgumentException.class, () -> write(tmp.resolve("x"), List.of(a, a), bytes, Map.of()));
    TensorInfo meta = new TensorInfo("__metadata__", DType.U8, new long[] {1});
    assertThrows(IllegalArgumentException.class, () -> write(tmp.resolve("y"), List.of(meta), bytes, Map.of()));
  }
}
