package org.rlhf4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.testing.ParquetFiles;

class ParquetRowsTest {
  static final String SCHEMA = "message row { required binary prompt (STRING); optional int32 id; "
      + "optional int64 big; optional double score; optional boolean ok; "
      + ParquetFiles.MESSAGES.formatted("messages") + " optional binary note (STRING); }";

  @TempDir Path dir;

  /** Rows with every kind of value a JSONL line has, conversational messages included. */
  static List<Map<String, Object>> rows(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("prompt", "prompt " + i + (i % 5 == 0 ? " longer" : "") + " with ünïcödé ✓");
      row.put("id", i);
      row.put("big", 5_000_000_000L + i);
      row.put("score", i / 4.0);
      row.put("ok", i % 2 == 0);
      row.put("messages", List.of(Map.of("role", "user", "content", "hi " + i),
          Map.of("role", "assistant", "content", "hello " + i)));
      if (i % 3 != 0) row.put("note", "n" + i);
      rows.add(row);
    }
    return rows;
  }

  static Path jsonl(Path file, List<Map<String, Object>> rows) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<String> lines = new ArrayList<>();
    for (Map<String, Object> row : rows) lines.add(json.writeValueAsString(row));
    return Files.write(file, lines);
  }

  private String error(Path file) {
    return assertThrows(DataException.class, () -> PromptFile.readRows(file, Format.AUTO, "text")).getMessage()
        .replace(dir.toString() + "/", "");
  }

  @Test
  void parquetGivesTheRowsAndPromptsOfTheSameJsonl() throws IOException {
    List<Map<String, Object>> rows = rows(7);
    Path json = jsonl(dir.resolve("p.jsonl"), rows);
    Path parquet = ParquetFiles.write(dir.resolve("p.parquet"), SCHEMA, rows);
    List<Row> fromJson = PromptFile.readRows(json, Format.AUTO, "text");
    List<Row> fromParquet = PromptFile.readRows(parquet, Format.AUTO, "text");
    assertEquals(7, fromParquet.size());
    for (int i = 0; i < 7; i++) {
      assertEquals(fromJson.get(i).fields(), fromParquet.get(i).fields());
      assertEquals(i + 1, fromParquet.get(i).line());
      assertEquals(parquet + ": row " + (i + 1), fromParquet.get(i).where());
    }
    assertEquals(List.of(Map.of("role", "user", "content", "hi 2"), Map.of("role", "assistant", "content", "hello 2")),
        fromParquet.get(2).fields().get("messages"), "TRL's messages read as the JSONL array of objects");
    List<PromptFile.Line> a = PromptFile.read(json, Format.AUTO, "prompt");
    List<PromptFile.Line> b = PromptFile.read(parquet, Format.PARQUET, "prompt");
    for (int i = 0; i < 7; i++) {
      assertEquals(a.get(i).text(), b.get(i).text());
      assertEquals(a.get(i).fields(), b.get(i).fields());
    }
  }

  @Test
  void promptPoolsFromJsonlAndParquetAreIdentical() throws IOException {
    List<Map<String, Object>> rows = rows(40);
    Path json = jsonl(dir.resolve("p.jsonl"), rows);
    Path parquet = ParquetFiles.write(dir.resolve("p.parquet"), SCHEMA, rows);
    PromptPool a = PromptPool.load(data(json), 11, new WhitespaceTokenizer());
    PromptPool b = PromptPool.load(data(parquet), 11, new WhitespaceTokenizer());
    assertEquals(a.eval(), b.eval());
    assertEquals(a.next(100), b.next(100), "the same prompts, tokens, fields, split and shuffles");
    assertEquals(a.cursor(), b.cursor());
    assertEquals(8, b.skippedTooLong(), "every fifth prompt is over the limit of 5 tokens");
    assertEquals(a.skippedTooLong(), b.skippedTooLong());
  }

  private static DataSection data(Path file) {
    return new DataSection(file, Format.AUTO, "prompt", null, 0.1, 5, TooLong.SKIP, true);
  }

  @Test
  void aDirectoryIsItsShardsInNameOrderWithCodecsMixed() throws IOException {
    List<Map<String, Object>> rows = rows(10);
    Path shards = Files.createDirectory(dir.resolve("train"));
    // Written out of name order, each with its own codec, and a file that is not a shard.
    ParquetFiles.write(shards.resolve("train-00002-of-00003.parquet"), SCHEMA, rows.subList(7, 10),
        CompressionCodecName.ZSTD, 1 << 20);
    ParquetFiles.write(shards.resolve("train-00000-of-00003.parquet"), SCHEMA, rows.subList(0, 4),
        CompressionCodecName.GZIP, 1 << 20);
    ParquetFiles.write(shards.resolve("train-00001-of-00003.parquet"), SCHEMA, rows.subList(4, 7),
        CompressionCodecName.LZ4_RAW, 1 << 20);
    Files.writeString(shards.resolve("README.md"), "not a shard");
    List<Row> read = PromptFile.readRows(shards, Format.AUTO, "text");
    List<Row> whole = PromptFile.readRows(jsonl(dir.resolve("all.jsonl"), rows), Format.AUTO, "text");
    assertEquals(10, read.size());
    for (int i = 0; i < 10; i++) {
      assertEquals(whole.get(i).fields(), read.get(i).fields());
      assertEquals(i + 1, read.get(i).line(), "numbered across the shards");
    }
    assertEquals(shards.resolve("train-00001-of-00003.parquet") + ": row 2", read.get(5).where());
    assertEquals("empty: no .parquet files in this directory", error(Files.createDirectory(dir.resolve("empty"))));
  }

  @Test
  void missingMistypedNullAndNonUtf8ColumnsNameFileRowAndField() throws IOException {
    Path missing = ParquetFiles.write(dir.resolve("missing.parquet"), "message m { optional binary text (STRING); }",
        List.of(Map.of("text", "one")));
    assertEquals(missing + ": row 1: missing field 'prompt'",
        assertThrows(DataException.class, () -> PromptFile.read(missing, Format.AUTO, "prompt")).getMessage());
    Path mistyped = ParquetFiles.write(dir.resolve("mistyped.parquet"), "message m { optional int32 prompt; }",
        List.of(Map.of("prompt", 3)));
    assertEquals(mistyped + ": row 1: field 'prompt' must be a string, got a number",
        assertThrows(DataException.class, () -> PromptFile.read(mistyped, Format.AUTO, "prompt")).getMessage());
    Path binary = ParquetFiles.write(dir.resolve("binary.parquet"), "message m { optional binary prompt; }",
        List.of(Map.of("prompt", "x".getBytes(StandardCharsets.UTF_8))));
    assertEquals(binary + ": row 1: field 'prompt' must be a string, got binary",
        assertThrows(DataException.class, () -> PromptFile.read(binary, Format.AUTO, "prompt")).getMessage());
    Map<String, Object> nullPrompt = new HashMap<>();
    nullPrompt.put("id", 1);
    Path nulls = ParquetFiles.write(dir.resolve("null.parquet"),
        "message m { optional binary prompt (STRING); optional int32 id; }", List.of(Map.of("prompt", "ok"), nullPrompt));
    assertEquals(nulls + ": row 2: missing field 'prompt'",
        assertThrows(DataException.class, () -> PromptFile.read(nulls, Format.AUTO, "prompt")).getMessage());

    byte[] bad = {'o', 'k', (byte) 0xC3, '('};
    Path utf8 = ParquetFiles.write(dir.resolve("utf8.parquet"), "message m { optional binary prompt (STRING); }",
        List.of(Map.of("prompt", "fine"), Map.of("prompt", bad)));
    assertEquals("utf8.parquet: row 2: field 'prompt' is not valid UTF-8", error(utf8));
    Path nested = ParquetFiles.write(dir.resolve("nested.parquet"),
        "message m { " + ParquetFiles.MESSAGES.formatted("messages") + " }",
        List.of(Map.of("messages", List.of(Map.of("role", "user", "content", "hi"),
            Map.of("role", "assistant", "content", bad)))));
    assertEquals("nested.parquet: row 1: field 'messages[1].content' is not valid UTF-8", error(nested));
  }

  @Test
  void brokenAndEmptyFilesAreNamed() throws IOException {
    Path text = Files.writeString(dir.resolve("text.parquet"), "{\"prompt\": \"not parquet\"}\n");
    assertTrue(error(text).startsWith("text.parquet: not a readable Parquet file: "), error(text));
    Path full = ParquetFiles.write(dir.resolve("cut.parquet"), SCHEMA, rows(50));
    byte[] bytes = Files.readAllBytes(full);
    Path cut = Files.write(dir.resolve("cut.parquet"), Arrays.copyOf(bytes, bytes.length / 2));
    assertTrue(error(cut).startsWith("cut.parquet: not a readable Parquet file: "), error(cut));
    Path empty = ParquetFiles.write(dir.resolve("empty.parquet"), SCHEMA, List.of());
    assertEquals("empty.parquet: no prompts (the file is empty)", error(empty));
    assertEquals("prompt file not found: " + dir.resolve("none.parquet"), assertThrows(DataException.class,
        () -> PromptFile.read(dir.resolve("none.parquet"), Format.AUTO, "prompt")).getMessage());
  }
}
