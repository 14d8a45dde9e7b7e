package org.rlhf4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Finding the tokenizer of a checkpoint directory. Stateless and thread-safe. */
public final class Tokenizers {
  private Tokenizers() {}

  /**
   * The tokenizer of a checkpoint directory: {@code tokenizer.json} gives a {@link
   * WordTokenizer} when it is one that class wrote, else an {@link HfTokenizer}; otherwise
   * {@code vocab.json} (or {@code encoder.json}) with {@code merges.txt} (or {@code vocab.bpe})
   * gives a {@link Gpt2BpeTokenizer}, whose bos, eos and pad the directory's config files may
   * set (default {@code <|endoftext|>}).
   *
   * @throws FileNotFoundException when the directory holds none of these files
   * @throws IOException when the files are malformed
   */
  public static Tokenizer load(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new FileNotFoundException("tokenizer: " + dir + " is not a directory");
    }
    Path tokenizerJson = dir.resolve("tokenizer.json");
    if (Files.isRegularFile(tokenizerJson)) {
      JsonNode json = JsonFiles.read(tokenizerJson);
      return WordTokenizer.isOwnFormat(json)
          ? WordTokenizer.fromJson(json, tokenizerJson)
          : HfTokenizer.load(dir, json);
    }
    Path vocab = firstFile(dir, "vocab.json", "encoder.json");
    Path merges = firstFile(dir, "merges.txt", "vocab.bpe");
    if (vocab != null && merges != null) {
      Gpt2BpeTokenizer bpe = Gpt2BpeTokenizer.load(vocab, merges);
      SpecialIds defaults = new SpecialIds(bpe.bosId(), bpe.eosId(), bpe.padId());
      return bpe.withSpecialIds(SpecialIds.read(dir, bpe::idOf, bpe.vocabSize(), defaults));
    }
    throw new FileNotFoundException("no tokenizer in " + dir + ": expected tokenizer.json, or"
        + " vocab.json (or encoder.json) with merges.txt (or vocab.bpe)");
  }

  private static Path firstFile(Path dir, String... names) {
    return List.of(names).stream().map(dir::resolve).filter(Files::isRegularFile).findFirst()
        .orElse(null);
  }
}
