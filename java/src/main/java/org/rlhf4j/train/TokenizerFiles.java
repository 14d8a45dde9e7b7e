package org.rlhf4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.checkpoint.CheckpointWriter;

/** The tokenizer files of a Hugging Face directory, copied into checkpoints so they load alone. */
public final class TokenizerFiles {
  /** The files Hugging Face and rlhf4j read a tokenizer and its special tokens from. */
  public static final List<String> NAMES = List.of("tokenizer.json", "tokenizer_config.json",
      "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe",
      "chat_template.jinja");

  private TokenizerFiles() {}

  /** Adds every tokenizer file present in dir (null: none) to the checkpoint being written. */
  public static void copyInto(CheckpointWriter writer, Path dir) {
    if (dir == null) return;
    for (String name : NAMES) {
      Path file = dir.resolve(name);
      if (!Files.isRegularFile(file)) continue;
      try {
        writer.file(name, Files.readAllBytes(file));
      } catch (IOException e) {
        throw new UncheckedIOException("reading " + file + ": " + e.getMessage(), e);
      }
    }
  }
}
