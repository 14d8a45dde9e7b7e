package org.rlhf4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rlhf4j.config.DataSection.Format;

/**
 * Reads a prompt file: JSONL (one JSON object a line, the prompt in a string field, the other
 * fields kept) or UTF-8 text (one prompt a line). Blank lines are allowed only at the end of the
 * file; any other blank or bad line is an error {@code file:line: reason}. Stateless and
 * thread-safe.
 */
public final class PromptFile {
  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  /**
   * One prompt as the file has it.
   *
   * @param line 1-based line number
   * @param text the prompt
   * @param fields the JSONL object's other fields (empty for text files)
   */
  public record Line(int line, String text, Map<String, Object> fields) {}

  private PromptFile() {}

  /**
   * The prompts of file, in file order.
   *
   * @param format jsonl, text, or auto: .jsonl, .ndjson and .json are JSONL, .txt is text, any
   *     other name is JSONL when its first line starts with '{'
   * @param field the JSONL field holding the prompt
   * @throws DataException when the file is missing, not UTF-8, has a bad line or no prompt
   * @throws IOException when it cannot be read otherwise
   */
  public static List<Line> read(Path file, Format format, String field) throws IOException {
    return parse(file, format, (where, line, s, jsonl) ->
        jsonl ? jsonLine(where, line, s, field) : new Line(line, s, Map.of()));
  }

  /**
   * One line of a data file whose fields the caller interprets (SFT examples, preference pairs).
   *
   * @param where {@code file:line}, to begin error messages with
   * @param line 1-based line number
   * @param fields the JSON object as Jackson maps it (String, Integer, Long, Double, Boolean,
   *     List, Map or null); a text file's line is the one field the caller named
   */
  public record Row(String where, int line, Map<String, Object> fields) {
    public Row {
      // Map.copyOf would refuse JSON nulls, which the accessors report.
      fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    public boolean has(String name) {
      return fields.containsKey(name);
    }

    /** The string in field name, or null when the object lacks it; any other value is an error. */
    public String string(String name) {
      if (!fields.containsKey(name)) return null;
      if (fields.get(name) instanceof String s) return s;
      throw new DataException(where + ": field '" + name + "' must be a string, got " + kindOf(fields.get(name)));
    }

    /** The string in field name, which must be there and not blank. */
    public String text(String name) {
      String s = string(name);
      if (s == null) throw new DataException(where + ": missing field '" + name + "'");
      if (s.isBlank()) throw new DataException(where + ": field '" + name + "' is empty");
      return s;
    }

    private static String kindOf(Object value) {
      return switch (value) {
        case null -> "null";
        case Number n -> "a number";
        case Boolean b -> "a boolean";
        case List<?> l -> "an array";
        case Map<?, ?> m -> "an object";
        default -> value.getClass().getSimpleName();
      };
    }
  }

  /**
   * The lines of file as rows, in file order, with the line rules and errors of {@link #read}:
   * a JSONL line is its object, a text line is {@code {textField: line}}.
   */
  public static List<Row> readRows(Path file, Format format, String textField) throws IOException {
    return parse(file, format, (where, line, s, jsonl) -> new Row(where, line, jsonl
        ? JSON.convertValue(object(where, s), new TypeReference<LinkedHashMap<String, Object>>() {})
        : Map.of(textField, s)));
  }

  /** Parses one non-blank line; where is {@code file:line}. */
  private interface LineParser<T> {
    T parse(String where, int line, String text, boolean jsonl);
  }

  private static <T> List<T> parse(Path file, Format format, LineParser<T> parser) throws IOException {
    List<String> lines = lines(file);
    boolean jsonl = switch (format) {
      case JSONL -> true;
      case TEXT -> false;
      case AUTO -> looksLikeJsonl(file, lines);
    };
    int end = lines.size();
    while (end > 0 && lines.get(end - 1).isBlank()) end--;
    if (end == 0) throw new DataException(file + ": no prompts (the file is empty)");
    List<T> out = new ArrayList<>(end);
    for (int i = 0; i < end; i++) {
      String where = file + ":" + (i + 1);
      String s = lines.get(i);
      if (s.isBlank()) throw new DataException(where + ": empty line (allowed only at the end of the file)");
      out.add(parser.parse(where, i + 1, s, jsonl));
    }
    return out;
  }

  /** Lines split on \n (a \r before it dropped), each decoded on its own so an error has its line. */
  private static List<String> lines(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new DataException("prompt file not found: " + file);
    }
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    List<String> lines = new ArrayList<>();
    for (int start = 0; start < bytes.length; ) {
      int nl = start;
      while (nl < bytes.length && bytes[nl] != '\n') nl++;
      int end = nl > start && bytes[nl - 1] == '\r' ? nl - 1 : nl;
      try {
        String s = utf8.decode(ByteBuffer.wrap(bytes, start, end - start)).toString();
        lines.add(lines.isEmpty() && s.startsWith("\uFEFF") ? s.substring(1) : s);
      } catch (CharacterCodingException e) {
        throw new DataException(file + ":" + (lines.size() + 1) + ": not valid UTF-8");
      }
      start = nl + 1;
    }
    return lines;
  }

  private static boolean looksLikeJsonl(Path file, List<String> lines) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) return true;
    if (name.endsWith(".txt")) return false;
    return !lines.isEmpty() && lines.getFirst().stripLeading().startsWith("{");
  }

  private static Line jsonLine(String where, int line, String s, String field) {
    JsonNode node = object(where, s);
    JsonNode prompt = node.get(field);
    if (prompt == null) throw new DataException(where + ": missing field '" + field + "'");
    if (!prompt.isTextual()) {
      throw new DataException(where + ": field '" + field + "' must be a string, got " + kind(prompt));
    }
    if (prompt.textValue().isBlank()) throw new DataException(where + ": field '" + field + "' is empty");
    Map<String, Object> fields = JSON.convertValue(node, new TypeReference<LinkedHashMap<String, Object>>() {});
    fields.remove(field);
    return new Line(line, prompt.textValue(), fields);
  }

  private static JsonNode object(String where, String s) {
    JsonNode node;
    try {
      node = JSON.readTree(s);
    } catch (JsonProcessingException e) {
      throw new DataException(where + ": invalid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
    }
    if (!node.isObject()) throw new DataException(where + ": expected a JSON object, got " + kind(node));
    return node;
  }

  private static String kind(JsonNode node) {
    return switch (node.getNodeType()) {
      case ARRAY -> "an array";
      case OBJECT -> "an object";
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case NULL -> "null";
      default -> node.getNodeType().name().toLowerCase(Locale.ROOT);
    };
  }
}
