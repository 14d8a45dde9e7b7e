package org.rlhf4j.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
  @TempDir Path dir;

  private Path file() {
    return dir.resolve(MetricsLog.FILE_NAME);
  }

  private static Map<String, Double> metrics(double kl) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("objective/kl", kl);
    m.put("policy/clipfrac", 0.125);
    return m;
  }

  private void logIterations(long from, long to) throws IOException {
    try (MetricsLog log = MetricsLog.open(file())) {
      for (long i = from; i <= to; i++) log.append(i, metrics(i / 10.0));
    }
  }

  private static List<Long> iterations(List<MetricsRecord> records) {
    return records.stream().map(MetricsRecord::iteration).toList();
  }

  private void appendRaw(String text) throws IOException {
    Files.writeString(file(), text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
  }

  @Test
  void writesOneStrictJsonObjectPerLineWithIterationFirst() throws IOException {
    logIterations(1, 3);
    List<String> lines = Files.readAllLines(file());
    assertEquals(3, lines.size());
    JsonNode first = new ObjectMapper().readTree(lines.get(0));
    assertEquals("iteration", first.fieldNames().next());
    assertEquals(1, first.get("iteration").asLong());
    assertEquals(0.1, first.get("objective/kl").asDouble());
    assertEquals(0.125, first.get("policy/clipfrac").asDouble());
  }

  @Test
  void nonFiniteValuesRoundTripAsStringsInValidJson() throws IOException {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("objective/kl", Double.NaN);
    m.put("loss/value", Double.POSITIVE_INFINITY);
    m.put("loss/policy", Double.NEGATIVE_INFINITY);
    m.put("env/reward_mean", -0.0);
    try (MetricsLog log = MetricsLog.create(file())) {
      log.append(7, m);
    }
    String line = Files.readAllLines(file()).get(0);
    JsonNode node = new ObjectMapper().readTree(line); // strict parser: no bare NaN allowed
    assertEquals("NaN", node.get("objective/kl").asText());
    assertEquals("Infinity", node.get("loss/value").asText());
    assertEquals("-Infinity", node.get("loss/policy").asText());

    MetricsRecord r = MetricsLog.read(file()).get(0);
    assertEquals(7, r.iteration());
    assertTrue(Double.isNaN(r.get("objective/kl")));
    assertEquals(Double.POSITIVE_INFINITY, r.get("loss/value"));
    assertEquals(Double.NEGATIVE_INFINITY, r.get("loss/policy"));
    assertEquals(List.copyOf(m.keySet()), List.copyOf(r.values().keySet()));
  }

  @Test
  void readerTakesNullAsNaN() throws IOException {
    Files.writeString(file(), "{\"iteration\": 1, \"objective/kl\": null}\n");
    assertTrue(Double.isNaN(MetricsLog.read(file()).get(0).get("objective/kl")));
  }

  @Test
  void readerIgnoresATornLastLine() throws IOException {
    logIterations(1, 2);
    appendRaw("{\"iteration\": 3, \"objective/k");
    assertEquals(List.of(1L, 2L), iterations(MetricsLog.read(file())));
  }

  @Test
  void openDropsATornLastLineAndAppendingContinues() throws IOException {
    logIterations(1, 2);
    String intact = Files.readString(file());
    appendRaw("{\"iteration\": 3, \"objective/kl\": 0.");

    try (MetricsLog log = MetricsLog.open(file())) {
      assertEquals(2, log.lastIteration());
      log.append(3, metrics(0.3));
    }
    List<String> lines = Files.readAllLines(file());
    assertEquals(3, lines.size());
    assertTrue(Files.readString(file()).startsWith(intact));
    for (String l : lines) new ObjectMapper().readTree(l);
    assertEquals(List.of(1L, 2L, 3L), iterations(MetricsLog.read(file())));
  }

  @Test
  void openDropsAnUnparseableLastLineEvenWithItsNewline() throws IOException {
    logIterations(1, 2);
    appendRaw("{\"iteration\": 3, \"obj\n");
    try (MetricsLog log = MetricsLog.open(file())) {
      log.append(3, metrics(0.3));
    }
    assertEquals(List.of(1L, 2L, 3L), iterations(MetricsLog.read(file())));
  }

  @Test
  void aWholeLastEntryWithoutItsNewlineIsKept() throws IOException {
    logIterations(1, 1);
    appendRaw("{\"iteration\": 2, \"objective/kl\": 0.2}");
    assertEquals(List.of(1L, 2L), iterations(MetricsLog.read(file())));
    try (MetricsLog log = MetricsLog.open(file())) {
      log.append(3, metrics(0.3));
    }
    assertEquals(3, Files.readAllLines(file()).size());
    assertEquals(List.of(1L, 2L, 3L), iterations(MetricsLog.read(file())));
  }

  @Test
  void resumeDropsIterationsThatWillBeRedone() throws IOException {
    logIterations(1, 5);
    appendRaw("{\"iteration\": 6, \"obj"); // and a torn line from the kill
    try (MetricsLog log = MetricsLog.resume(file(), 3)) {
      assertEquals(3, log.lastIteration());
      log.append(4, metrics(99));
    }
    List<MetricsRecord> records = MetricsLog.read(file());
    assertEquals(List.of(1L, 2L, 3L, 4L), iterations(records));
    assertEquals(99, records.get(3).get("objective/kl"));
  }

  @Test
  void resumeFromBeforeTheFirstIterationEmptiesTheLog() throws IOException {
    logIterations(0, 3);
    try (MetricsLog log = MetricsLog.resume(file(), -1)) {
      assertEquals(-1, log.lastIteration());
    }
    assertEquals(0, Files.size(file()));
  }

  @Test
  void createStartsEmpty() throws IOException {
    logIterations(1, 3);
    try (MetricsLog log = MetricsLog.create(file())) {
      log.append(1, metrics(0.5));
    }
    assertEquals(List.of(1L), iterations(MetricsLog.read(file())));
  }

  @Test
  void openCreatesMissingFileAndParents() throws IOException {
    Path nested = dir.resolve("run/a/metrics.jsonl");
    try (MetricsLog log = MetricsLog.open(nested)) {
      assertEquals(-1, log.lastIteration());
      log.append(0, metrics(0));
    }
    assertEquals(1, MetricsLog.read(nested).size());
  }

  @Test
  void aCorruptLineBeforeTheLastFailsNamingFileAndLine() throws IOException {
    logIterations(1, 1);
    appendRaw("not json\n");
    appendRaw("{\"iteration\": 3}\n");
    String before = Files.readString(file());
    IOException e = assertThrows(IOException.class, () -> MetricsLog.read(file()));
    assertTrue(e.getMessage().contains(MetricsLog.FILE_NAME + ":2:"), e.getMessage());
    assertThrows(IOException.class, () -> MetricsLog.open(file()));
    assertEquals(before, Files.readString(file()), "a refused open leaves the file alone");
  }

  @Test
  void aNonNumericValueFailsNamingTheKey() throws IOException {
    Files.writeString(file(), "{\"iteration\": 1, \"model\": \"gpt2\"}\n{\"iteration\": 2}\n");
    IOException e = assertThrows(IOException.class, () -> MetricsLog.read(file()));
    assertTrue(e.getMessage().contains(":1:") && e.getMessage().contains("'model'"), e.getMessage());
  }

  @Test
  void iterationsMustIncrease() throws IOException {
    logIterations(1, 3);
    try (MetricsLog log = MetricsLog.open(file())) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> log.append(3, metrics(1)));
      assertTrue(e.getMessage().contains("resume"), e.getMessage());
    }
  }

  @Test
  void theIterationKeyIsReserved() {
    assertThrows(IllegalArgumentException.class, () -> new MetricsRecord(1, Map.of("iteration", 2.0)));
  }

  @Test
  void aSecondWriterIsRefused() throws IOException {
    try (MetricsLog log = MetricsLog.open(file())) {
      IOException e = assertThrows(IOException.class, () -> MetricsLog.open(file()));
      assertTrue(e.getMessage().contains("already open"), e.getMessage());
      log.append(1, metrics(1));
    }
    try (MetricsLog again = MetricsLog.open(file())) {
      assertEquals(1, again.lastIteration());
    }
  }

  @Test
  void seriesPicksOneMetricAcrossRecords() {
    List<MetricsRecord> records = List.of(new MetricsRecord(1, Map.of("a", 1.0)),
        new MetricsRecord(2, Map.of("b", 5.0)), new MetricsRecord(3, Map.of("a", 3.0)));
    List<double[]> points = MetricsRecord.series(records, "a");
    assertEquals(2, points.size());
    assertEquals(3.0, points.get(1)[0]);
    assertEquals(3.0, points.get(1)[1]);
  }
}
