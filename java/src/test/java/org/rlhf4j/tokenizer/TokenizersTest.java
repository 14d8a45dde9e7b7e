package org.rlhf4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {
  @Test
  void ourTokenizerJsonIsAWordTokenizer(@TempDir Path dir) throws IOException {
    WordTokenizerTest.WORDS.save(dir.resolve("tokenizer.json"));
    var tok = assertInstanceOf(WordTokenizer.class, Tokenizers.load(dir));
    assertEquals(WordTokenizerTest.WORDS.vocabulary(), tok.vocabulary());
  }

  @Test
  void otherTokenizerJsonIsAnHfTokenizer(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), HfTokenizerTest.TINY);
    assertInstanceOf(HfTokenizer.class, Tokenizers.load(dir));
  }

  @Test
  void tokenizerJsonWinsOverVocabAndMerges(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), HfTokenizerTest.TINY);
    Files.copy(Gpt2Samples.encoderJson(), dir.resolve("vocab.json"));
    Files.copy(Gpt2Samples.vocabBpe(), dir.resolve("merges.txt"));
    assertInstanceOf(HfTokenizer.class, Tokenizers.load(dir));
  }

  @Test
  void vocabAndMergesAreGpt2Bpe(@TempDir Path dir) throws IOException {
    Files.copy(Gpt2Samples.encoderJson(), dir.resolve("vocab.json"));
    Files.copy(Gpt2Samples.vocabBpe(), dir.resolve("merges.txt"));
    var tok = assertInstanceOf(Gpt2BpeTokenizer.class, Tokenizers.load(dir));
    var sample = Gpt2Samples.SAMPLES.get(2);
    assertArrayEquals(sample.ids(), tok.encode(sample.text()));
    assertEquals(50256, tok.eosId());
  }

  @Test
  void openAiFileNamesAreGpt2BpeToo(@TempDir Path dir) throws IOException {
    Files.copy(Gpt2Samples.encoderJson(), dir.resolve("encoder.json"));
    Files.copy(Gpt2Samples.vocabBpe(), dir.resolve("vocab.bpe"));
    assertInstanceOf(Gpt2BpeTokenizer.class, Tokenizers.load(dir));
  }

  @Test
  void configFilesSetGpt2BpeSpecialIds(@TempDir Path dir) throws IOException {
    Files.copy(Gpt2Samples.encoderJson(), dir.resolve("vocab.json"));
    Files.copy(Gpt2Samples.vocabBpe(), dir.resolve("merges.txt"));
    Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
    Tokenizer tok = Tokenizers.load(dir);
    assertEquals(50256, tok.eosId());
    assertEquals(0, tok.padId());
    // The pad token is special now: recognised in text, skipped when decoding.
    assertEquals("a", tok.decode(tok.encode("a!")));
    assertEquals("a!", tok.decode(tok.encode("a!"), false));
  }

  @Test
  void missingFilesNameTheDirectory(@TempDir Path dir) throws IOException {
    Files.copy(Gpt2Samples.encoderJson(), dir.resolve("vocab.json"));
    var e = assertThrows(FileNotFoundException.class, () -> Tokenizers.load(dir));
    assertEquals("no tokenizer in " + dir + ": expected tokenizer.json, or vocab.json (or"
        + " encoder.json) with merges.txt (or vocab.bpe)", e.getMessage());

    Path absent = dir.resolve("absent");
    e = assertThrows(FileNotFoundException.class, () -> Tokenizers.load(absent));
    assertEquals("tokenizer: " + absent + " is not a directory", e.getMessage());
  }
}
