package org.rlhf4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.rlhf4j.config.DataSection.Format;

/**
 * The lines of a JSONL file (each a JSON object) or a UTF-8 text file (each line the one field
 * textField), read a line at a time. Lines split on \n (a \r before it dropped), each decoded on
 * its own so an error names its line. Blank lines are allowed only at the end of the file: one
 * followed by a record is an error {@code file:line: reason}. Not thread-safe.
 */
final class LineRows implements RowReader {
  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();
  private static final TypeReference<LinkedHashMap<String, Object>> OBJECT = new TypeReference<>() {};

  private final Path file;
  private final Format format;
  private final String textField;
  private final InputStream in;
  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);
  private final byte[] chunk = new byte[1 << 16];
  private int position;
  private int limit;
  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
  private Boolean jsonl;
  private int lineNumber;
  private int firstBlank;

  LineRows(Path file, Format format, String textField) throws IOException {
    this.file = file;
    this.format = format;
    this.textField = textField;
    this.in = Files.newInputStream(file);
  }

  @Override
  public Row next() throws IOException {
    String s;
    while ((s = line()) != null) {
      if (jsonl == null) jsonl = isJsonl(s);
      if (s.isBlank()) {
        if (firstBlank == 0) firstBlank = lineNumber;
        continue;
      }
      if (firstBlank != 0) {
        throw new DataException(file + ":" + firstBlank + ": empty line (allowed only at the end of the file)");
      }
      String where = file + ":" + lineNumber;
      return new Row(where, lineNumber, jsonl
          ? JSON.convertValue(object(where, s), OBJECT)
          : Map.of(textField, s));
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }

  /** The next line decoded, or null at the end of the file. */
  private String line() throws IOException {
    buffer.reset();
    boolean any = false;
    while (true) {
      if (position == limit) {
        limit = in.read(chunk);
        position = 0;
        if (limit <= 0) {
          limit = 0;
          if (!any) return null;
          break;
        }
      }
      any = true;
      int end = position;
      while (end < limit && chunk[end] != '\n') end++;
      buffer.write(chunk, position, end - position);
      position = end;
      if (end < limit) {
        position++;
        break;
      }
    }
    lineNumber++;
    byte[] bytes = buffer.toByteArray();
    int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
    try {
      String s = utf8.decode(ByteBuffer.wrap(bytes, 0, length)).toString();
      return lineNumber == 1 && s.startsWith("\uFEFF") ? s.substring(1) : s;
    } catch (CharacterCodingException e) {
      throw new DataException(file + ":" + lineNumber + ": not valid UTF-8");
    }
  }

  /** Format auto: .jsonl, .ndjson and .json are JSONL, .txt is text, else JSONL if it starts with '{'. */
  private boolean isJsonl(String firstLine) {
    if (format != Format.AUTO) return format == Format.JSONL;
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) return true;
    if (name.endsWith(".txt")) return false;
    return firstLine.stripLeading().startsWith("{");
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
