package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading JSON files with errors that name the file and the place. */
final class JsonFiles {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private JsonFiles() {}

  /** The JSON in file; a missing file or malformed JSON throws with the file's name. */
  static JsonNode read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) throw new FileNotFoundException(file + ": no such file");
    try {
      return MAPPER.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      String where = at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr();
      throw new IOException(file + where + ": malformed JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** The JSON in file, or null when the file does not exist. */
  static JsonNode readIfExists(Path file) throws IOException {
    return Files.exists(file) ? read(file) : null;
  }
}
