package org.rlhf4j.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event files beside metrics.jsonl, read back by a decoder written here from the formats'
 * specifications (TFRecord framing, protobuf wire format, tensorflow.Event / Summary), with its
 * own bitwise CRC32C: nothing shared with the writer.
 */
public class TensorBoardWriterTest {
  @TempDir Path dir;

  /** One decoded Event: wall_time, step, file_version, session_log status, scalars by tag. */
  public record Event(double wallTime, long step, String fileVersion, long sessionStatus, Map<String, Float> scalars) {}

  @Test
  void everyMetricIsAScalarPerIterationEqualToMetricsJsonl() throws IOException {
    Path file = dir.resolve(MetricsLog.FILE_NAME);
    try (MetricsLog log = MetricsLog.create(file)) {
      log.append(1, Map.of("objective/kl", 0.25, "loss/policy", -1.5e-3));
      log.append(2, Map.of("objective/kl", 0.5, "loss/policy", Double.NaN, "objective/scores", 3.0));
      log.append(3, Map.of("objective/kl", 1e-9));
    }
    List<Path> files = eventFiles();
    assertEquals(1, files.size());
    assertTrue(files.getFirst().getFileName().toString().startsWith("events.out.tfevents."));
    List<Event> events = decode(files.getFirst());
    assertEquals("brain.Event:2", events.getFirst().fileVersion());
    List<MetricsRecord> records = MetricsLog.read(file);
    List<Event> scalars = events.subList(1, events.size());
    assertEquals(records.size(), scalars.size());
    for (int i = 0; i < records.size(); i++) {
      assertEquals(records.get(i).iteration(), scalars.get(i).step());
      Map<String, Float> expected = new LinkedHashMap<>();
      records.get(i).values().forEach((k, v) -> expected.put(k, v.floatValue()));
      assertEquals(expected, scalars.get(i).scalars());
      assertTrue(scalars.get(i).wallTime() > 1.7e9, "wall time in seconds since the epoch");
    }
  }

  @Test
  void aResumedLogStartsANewFileWithASessionStartAtItsFirstStep() throws IOException, InterruptedException {
    Path file = dir.resolve(MetricsLog.FILE_NAME);
    try (MetricsLog log = MetricsLog.create(file)) {
      for (int i = 1; i <= 4; i++) log.append(i, Map.of("objective/kl", (double) i));
    }
    try (MetricsLog log = MetricsLog.resume(file, 2)) {
      log.append(3, Map.of("objective/kl", 30.0));
    }
    List<Path> files = eventFiles();
    assertEquals(2, files.size());
    List<Event> second = null;
    for (Path f : files) {
      List<Event> e = decode(f);
      if (e.size() == 3) second = e;
    }
    assertTrue(second != null, "the resumed file: version, session start, one scalar event");
    assertEquals(3, second.get(1).step());
    assertEquals(1, second.get(1).sessionStatus(), "SessionLog.START");
    assertEquals(Map.of("objective/kl", 30f), second.get(2).scalars());
  }

  @Test
  void ownCrc32cMatchesTheStandardCheckValue() {
    assertEquals(0xE3069283, crc32c("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9));
  }

  private List<Path> eventFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().contains("tfevents")).sorted().toList();
    }
  }

  // ---- The independent decoder --------------------------------------------------------------

  public static List<Event> decode(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    List<Event> out = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] header = new byte[8];
      b.get(header);
      long length = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertEquals(masked(crc32c(header, 0, 8)), b.getInt(), "length CRC of record " + out.size());
      byte[] data = new byte[Math.toIntExact(length)];
      b.get(data);
      assertEquals(masked(crc32c(data, 0, data.length)), b.getInt(), "data CRC of record " + out.size());
      out.add(event(data));
    }
    return out;
  }

  private static Event event(byte[] data) {
    double wall = 0;
    long step = 0;
    String version = null;
    long status = -1;
    Map<String, Float> scalars = new LinkedHashMap<>();
    for (Field f : fields(data)) {
      switch (f.number) {
        case 1 -> wall = Double.longBitsToDouble(f.fixed);
        case 2 -> step = f.varint;
        case 3 -> version = new String(f.bytes, StandardCharsets.UTF_8);
        case 5 -> {
          for (Field value : fields(f.bytes)) {
            assertEquals(1, value.number, "Summary.value");
            String tag = null;
            Float simple = null;
            for (Field v : fields(value.bytes)) {
              if (v.number == 1) tag = new String(v.bytes, StandardCharsets.UTF_8);
              if (v.number == 2) simple = Float.intBitsToFloat((int) v.fixed);
            }
            scalars.put(tag, simple);
          }
        }
        case 6 -> {
          for (Field s : fields(f.bytes)) if (s.number == 1) status = s.varint;
        }
        default -> throw new AssertionError("unexpected Event field " + f.number);
      }
    }
    return new Event(wall, step, version, status, scalars);
  }

  private record Field(int number, long varint, long fixed, byte[] bytes) {}

  private static List<Field> fields(byte[] data) {
    List<Field> out = new ArrayList<>();
    int[] pos = {0};
    while (pos[0] < data.length) {
      long tag = varint(data, pos);
      int number = (int) (tag >>> 3);
      switch ((int) (tag & 7)) {
        case 0 -> out.add(new Field(number, varint(data, pos), 0, null));
        case 1 -> out.add(new Field(number, 0, little(data, pos, 8), null));
        case 5 -> out.add(new Field(number, 0, little(data, pos, 4), null));
        case 2 -> {
          int n = (int) varint(data, pos);
          byte[] b = java.util.Arrays.copyOfRange(data, pos[0], pos[0] + n);
          pos[0] += n;
          out.add(new Field(number, 0, 0, b));
        }
        default -> throw new AssertionError("wire type " + (tag & 7));
      }
    }
    return out;
  }

  private static long varint(byte[] d, int[] pos) {
    long v = 0;
    for (int shift = 0; ; shift += 7) {
      byte b = d[pos[0]++];
      v |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
  }

  private static long little(byte[] d, int[] pos, int n) {
    long v = 0;
    for (int i = 0; i < n; i++) v |= (long) (d[pos[0] + i] & 0xFF) << (8 * i);
    pos[0] += n;
    return v;
  }

  /** CRC-32C (Castagnoli), bit by bit: reflected polynomial 0x82F63B78. */
  static int crc32c(byte[] d, int off, int len) {
    int crc = 0xFFFFFFFF;
    for (int i = off; i < off + len; i++) {
      crc ^= d[i] & 0xFF;
      for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
    }
    return ~crc;
  }

  /** TFRecord's mask: rotate right by 15, add 0xa282ead8. */
  static int masked(int crc) {
    return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
  }
}
