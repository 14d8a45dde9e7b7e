package org.rlhf4j.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Strict JSON for the small files of a checkpoint (config, index, trainer state). */
final class Json {
  /** Far above any real config or index file; bounds what an untrusted file can make us read. */
  static final long MAX_FILE_BYTES = 64L << 20;

  static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .build();

  private Json() {}

  /** The file's JSON; a missing, oversized or malformed file is a one-line CheckpointException. */
  static JsonNode read(Path file) {
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new CheckpointException(file + ": " + size + " bytes, more than the " + MAX_FILE_BYTES + " allowed");
      }
      JsonNode node = MAPPER.readTree(Files.readAllBytes(file));
      if (node == null || node.isMissingNode()) throw new CheckpointException(file + ": the file is empty");
      return node;
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + ")";
      throw new CheckpointException(file + ": invalid JSON: " + Messages.oneLine(e.getOriginalMessage()) + where, e);
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + file + ": " + Messages.oneLine(e.toString()), e);
    }
  }

  /** Pretty-printed UTF-8 JSON with a trailing newline, as Hugging Face writes its files. */
  static byte[] bytes(JsonNode node) {
    try {
      byte[] body = MAPPER.writeValueAsBytes(node);
      byte[] out = Arrays.copyOf(body, body.length + 1);
      out[body.length] = '\n';
      return out;
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise JSON", e);
    }
  }
}
