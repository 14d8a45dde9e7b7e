package org.rlhf4j.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.rm.PreferenceData;
import org.rlhf4j.rm.PreferencePair;
import org.rlhf4j.testing.ParquetFiles;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/** SFT examples and reward-model pairs read from Parquet equal those read from the same JSONL. */
class ParquetLoadersTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();
  private static final List<String> WORDS = TinyCheckpoints.WORDS;

  private static String words(int seed, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) s.append(i == 0 ? "" : " ").append(WORDS.get((seed * 7 + i * 3) % WORDS.size()));
    return s.toString();
  }

  private Path jsonl(String name, List<Map<String, Object>> rows) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<String> lines = new ArrayList<>();
    for (Map<String, Object> row : rows) lines.add(json.writeValueAsString(row));
    return Files.write(dir.resolve(name), lines);
  }

  private static DataSection data(Path file) {
    // Held-out split and a limit that truncates some: both must fall the same way for both files.
    return new DataSection(file, Format.AUTO, "prompt", null, 0.2, 4, TooLong.TRUNCATE, true);
  }

  @Test
  void sftExamplesAreTheSameFromJsonlAndParquet() throws IOException {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      rows.add(i % 4 == 0 ? Map.of("text", words(i, 3 + i % 5))
          : Map.of("prompt", words(i, 2 + i % 3), "completion", words(i + 1, 1 + i % 9)));
    }
    String schema = "message sft { optional binary prompt (STRING); optional binary completion (STRING); "
        + "optional binary text (STRING); }";
    SftData a = SftData.load(data(jsonl("s.jsonl", rows)), 10, 5, tok);
    SftData b = SftData.load(data(ParquetFiles.write(dir.resolve("s.parquet"), schema, rows)), 10, 5, tok);
    assertEquals(a.train().size(), b.train().size());
    assertEquals(a.eval().size(), b.eval().size());
    assertEquals(4, b.eval().size());
    for (int i = 0; i < a.train().size(); i++) {
      assertArrayEquals(a.train().get(i).tokens(), b.train().get(i).tokens());
      assertEquals(a.train().get(i).promptLength(), b.train().get(i).promptLength());
    }
    for (int i = 0; i < a.eval().size(); i++) assertArrayEquals(a.eval().get(i).tokens(), b.eval().get(i).tokens());
    assertEquals(a.truncated(), b.truncated());
    assertTrue(b.truncated() > 0, "the limits cut some examples");
  }

  @Test
  void preferencePairsAreTheSameFromJsonlAndParquet() throws IOException {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      rows.add(Map.of("prompt", words(i, 2), "chosen", words(i + 2, 1 + i % 6), "rejected", words(i + 5, 1 + i % 3)));
    }
    String schema = "message rm { required binary prompt (STRING); required binary chosen (STRING); "
        + "required binary rejected (STRING); }";
    PreferenceData a = PreferenceData.load(data(jsonl("r.jsonl", rows)), 8, 3, tok);
    Path parquet = ParquetFiles.write(dir.resolve("r.parquet"), schema, rows);
    PreferenceData b = PreferenceData.load(data(parquet), 8, 3, tok);
    assertEquals(a.train().size(), b.train().size());
    assertEquals(a.eval().size(), b.eval().size());
    for (int i = 0; i < a.train().size(); i++) {
      PreferencePair x = a.train().get(i);
      PreferencePair y = b.train().get(i);
      assertArrayEquals(x.chosen(), y.chosen());
      assertArrayEquals(x.rejected(), y.rejected());
    }
    assertEquals(a.truncated(), b.truncated());
    assertTrue(b.truncated() > 0, "the limits cut some pairs");

    Path noRejected = ParquetFiles.write(dir.resolve("bad.parquet"),
        "message rm { required binary prompt (STRING); required binary chosen (STRING); }",
        List.of(Map.of("prompt", "one", "chosen", "two")));
    assertEquals(noRejected + ": row 1: missing field 'rejected'", assertThrows(DataException.class,
        () -> PreferenceData.load(new DataSection(noRejected, Format.AUTO, "prompt", null, 0, 4, TooLong.SKIP, true), 8,
            3, tok)).getMessage());
  }
}
