package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.ToIntFunction;

/**
 * The beginning-of-sequence, end-of-sequence and padding ids of a tokenizer; -1 for none.
 *
 * @param bos beginning-of-sequence id, or -1
 * @param eos end-of-sequence id, or -1
 * @param pad padding id, or -1
 */
record SpecialIds(int bos, int eos, int pad) {
  static final SpecialIds NONE = new SpecialIds(-1, -1, -1);

  /** Token files first, as TRL reads tokenizer.eos_token_id; then the model's files. */
  private static final String[] TOKEN_FILES = {"tokenizer_config.json", "special_tokens_map.json"};
  private static final String[] ID_FILES = {"generation_config.json", "config.json"};

  SpecialIds {
    if (bos < -1 || eos < -1 || pad < -1) {
      throw new IllegalArgumentException(
          "special ids must be -1 or ids: " + bos + ", " + eos + ", " + pad);
    }
  }

  /**
   * The special ids a checkpoint directory declares. Each of bos, eos and pad is taken from the
   * first of these that names it: {@code tokenizer_config.json} and {@code
   * special_tokens_map.json} ({@code eos_token}: the token's text, or an object with its {@code
   * content}), then {@code generation_config.json} and {@code config.json} ({@code
   * eos_token_id}: an id, or a list whose first id is taken); else {@code fallback}'s. A missing
   * pad is the eos, as TRL sets it.
   *
   * @param idOf the id of a token's text, or -1 when the vocabulary lacks it
   * @param vocabSize ids must lie below it
   */
  static SpecialIds read(Path dir, ToIntFunction<String> idOf, int vocabSize, SpecialIds fallback)
      throws IOException {
    JsonNode[] tokenFiles = new JsonNode[TOKEN_FILES.length];
    for (int i = 0; i < TOKEN_FILES.length; i++) {
      tokenFiles[i] = JsonFiles.readIfExists(dir.resolve(TOKEN_FILES[i]));
    }
    JsonNode[] idFiles = new JsonNode[ID_FILES.length];
    for (int i = 0; i < ID_FILES.length; i++) {
      idFiles[i] = JsonFiles.readIfExists(dir.resolve(ID_FILES[i]));
    }
    var reader = new Reader(dir, tokenFiles, idFiles, idOf, vocabSize);
    int bos = reader.find("bos", fallback.bos);
    int eos = reader.find("eos", fallback.eos);
    int pad = reader.find("pad", fallback.pad);
    return new SpecialIds(bos, eos, pad == -1 ? eos : pad);
  }

  private record Reader(Path dir, JsonNode[] tokenFiles, JsonNode[] idFiles,
      ToIntFunction<String> idOf, int vocabSize) {

    int find(String role, int fallback) throws IOException {
      for (int i = 0; i < tokenFiles.length; i++) {
        String text = tokenText(tokenFiles[i], role + "_token", TOKEN_FILES[i]);
        if (text == null) continue;
        int id = idOf.applyAsInt(text);
        if (id < 0) {
          throw new IOException(where(TOKEN_FILES[i]) + ": " + role + "_token \"" + text
              + "\" is not a token of the tokenizer");
        }
        return id;
      }
      for (int i = 0; i < idFiles.length; i++) {
        JsonNode node = idFiles[i] == null ? null : idFiles[i].get(role + "_token_id");
        if (node != null && node.isArray()) node = node.isEmpty() ? null : node.get(0);
        if (node == null || node.isNull()) continue;
        if (!node.canConvertToInt() || !node.isIntegralNumber()) {
          throw new IOException(where(ID_FILES[i]) + ": " + role
              + "_token_id must be an id or a list of ids, not " + node);
        }
        int id = node.intValue();
        if (id < 0 || id >= vocabSize) {
          throw new IOException(where(ID_FILES[i]) + ": " + role + "_token_id " + id
              + " is outside the tokenizer's ids [0, " + vocabSize + ")");
        }
        return id;
      }
      return fallback;
    }

    private String tokenText(JsonNode file, String key, String name) throws IOException {
      JsonNode node = file == null ? null : file.get(key);
      if (node == null || node.isNull()) return null;
      if (node.isTextual()) return node.textValue();
      if (node.isObject() && node.path("content").isTextual()) {
        return node.get("content").textValue();
      }
      throw new IOException(where(name) + ": " + key
          + " must be a string or an object with a \"content\" string, not " + node);
    }

    private String where(String file) {
      return dir.resolve(file).toString();
    }
  }
}
