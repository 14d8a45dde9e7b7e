package org.rlhf4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.testing.ParquetFiles;

/**
 * Reading a 1 GiB Parquet file streams it: a JVM limited to a 256 MiB heap reads every row and
 * reports its peak heap. Slow (writes and reads the gigabyte), so only with
 * {@code -Drlhf4j.longTests=true}; the README records a run's figures.
 */
@EnabledIfSystemProperty(named = "rlhf4j.longTests", matches = "true")
class ParquetStreamingLongTest {
  private static final long SIZE = 1L << 30;
  private static final long HEAP = 256L << 20;
  /**
   * The reader holds one row group; Hugging Face datasets writes 1,000 rows a group (about 2 MB
   * of these rows), parquet-java 128 MiB. 32 MiB sits between and leaves the heap room.
   */
  private static final long ROW_GROUP = 32L << 20;
  private static final Pattern RESULT = Pattern.compile("rows=(\\d+) chars=(\\d+) peakHeapBytes=(\\d+) peakLiveBytes=(\\d+) maxHeapBytes=(\\d+) seconds=(\\S+)");

  @TempDir Path dir;

  @Test
  void aGigabyteFileIsReadInA256MegabyteHeap() throws Exception {
    Path file = dir.resolve("big.parquet");
    long[] written = write(file);
    long size = Files.size(file);
    assertTrue(size >= SIZE, "file is " + size + " bytes");

    Path out = dir.resolve("probe.txt");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-Xmx" + (HEAP >> 20) + "m",
        "-cp", System.getProperty("java.class.path"), Probe.class.getName(), file.toString())
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    int rc = p.waitFor();
    String output = Files.readString(out);
    assertEquals(0, rc, output);
    Matcher m = RESULT.matcher(output);
    assertTrue(m.find(), output);
    assertEquals(written[0], Long.parseLong(m.group(1)), "every row read");
    assertEquals(written[1], Long.parseLong(m.group(2)), "every prompt character read");
    long peak = Long.parseLong(m.group(3));
    long live = Long.parseLong(m.group(4));
    assertTrue(Long.parseLong(m.group(5)) <= HEAP, "the probe ran with at most " + HEAP + " bytes of heap");
    assertTrue(peak < HEAP, "peak heap " + peak);
    assertTrue(live > 0 && live < HEAP, "peak live heap " + live);
    System.out.printf("file %d bytes, %d rows: read in %s s, peak heap in use %.1f MiB, peak live %.1f MiB%n", size,
        written[0], m.group(6), peak / 1048576.0, live / 1048576.0);
  }

  /** Rows of about 2 KB of random words and a two-turn conversation until the file passes 1 GiB. */
  private static long[] write(Path file) throws IOException {
    MessageType type = MessageTypeParser.parseMessageType("message big { required binary prompt (STRING); "
        + "required int64 id; " + ParquetFiles.MESSAGES.formatted("messages") + " }");
    Random random = new Random(1);
    String[] words = new String[4096];
    for (int i = 0; i < words.length; i++) {
      char[] w = new char[3 + random.nextInt(8)];
      for (int j = 0; j < w.length; j++) w[j] = (char) ('a' + random.nextInt(26));
      words[i] = new String(w);
    }
    long rows = 0;
    long chars = 0;
    try (ParquetWriter<Group> w = ParquetFiles.writer(file, type, CompressionCodecName.SNAPPY, ROW_GROUP)) {
      while (w.getDataSize() < SIZE + (16 << 20)) { // getDataSize runs a little under the final size
        StringBuilder s = new StringBuilder();
        while (s.length() < 2000) s.append(words[random.nextInt(words.length)]).append(' ');
        String prompt = s.toString();
        w.write(ParquetFiles.group(type, Map.of("prompt", prompt, "id", rows, "messages", List.of(
            Map.of("role", "user", "content", prompt.substring(0, 40)),
            Map.of("role", "assistant", "content", prompt.substring(40, 80))))));
        rows++;
        chars += prompt.length();
      }
    }
    return new long[] {rows, chars};
  }

  /**
   * Reads a file row by row, as the loaders do, and prints what it read, the peak heap in use
   * (garbage included, sampled every 64 rows) and the peak live heap (in use after a collection).
   */
  public static final class Probe {
    private static final AtomicLong LIVE = new AtomicLong();

    public static void main(String[] args) throws IOException {
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        ((NotificationEmitter) gc).addNotificationListener((n, x) -> {
          if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
          GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()).getGcInfo();
          LIVE.accumulateAndGet(info.getMemoryUsageAfterGc().values().stream().mapToLong(MemoryUsage::getUsed).sum(),
              Math::max);
        }, null, null);
      }
      MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
      long start = System.nanoTime();
      long rows = 0;
      long chars = 0;
      long peak = 0;
      try (RowReader reader = RowReader.open(Path.of(args[0]), Format.AUTO, "text")) {
        for (Row row = reader.next(); row != null; row = reader.next()) {
          if (!row.fields().get("id").equals(rows)) throw new AssertionError("row " + rows + " out of order");
          chars += row.text("prompt").length();
          if (rows++ % 64 == 0) peak = Math.max(peak, memory.getHeapMemoryUsage().getUsed());
        }
      }
      System.out.printf("rows=%d chars=%d peakHeapBytes=%d peakLiveBytes=%d maxHeapBytes=%d seconds=%.1f%n", rows,
          chars, peak, LIVE.get(), Runtime.getRuntime().maxMemory(), (System.nanoTime() - start) / 1e9);
    }
  }
}
