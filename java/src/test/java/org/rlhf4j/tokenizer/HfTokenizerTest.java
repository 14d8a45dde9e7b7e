package org.rlhf4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {
  /** A WordPiece tokenizer (a model our other tokenizers do not have) with BERT's tokens. */
  static final String TINY = """
      {"version": "1.0", "truncation": null, "padding": null,
       "added_tokens": [
         {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false,
          "normalized": false, "special": true},
         {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
          "normalized": false, "special": true},
         {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false,
          "normalized": false, "special": true},
         {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false,
          "normalized": false, "special": true}],
       "normalizer": {"type": "Lowercase"},
       "pre_tokenizer": {"type": "Whitespace"},
       "post_processor": null,
       "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
       "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
         "max_input_chars_per_word": 100,
         "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "play": 4, "##ing": 5,
                   "##ed": 6, "we": 7, "ball": 8, "!": 9}}}
      """;

  @Test
  void tinyWordPieceEncodesAndDecodes(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), TINY);
    HfTokenizer tok = HfTokenizer.load(dir);
    int[] ids = tok.encode("We PLAYED ball, playing!");
    assertArrayEquals(new int[] {7, 4, 6, 8, 1, 4, 5, 9}, ids);
    assertEquals("we played ball [UNK] playing!", tok.decode(ids, false));
    assertEquals("we played ball playing!", tok.decode(ids, true));
    assertEquals(10, tok.vocabSize());
  }

  @Test
  void specialIdsComeFromTheConfigFilesInOrder(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), TINY);
    HfTokenizer bare = HfTokenizer.load(dir);
    assertEquals(-1, bare.bosId());
    assertEquals(-1, bare.eosId());
    assertEquals(-1, bare.padId());

    Files.writeString(dir.resolve("config.json"),
        "{\"bos_token_id\": 2, \"eos_token_id\": [3, 2], \"pad_token_id\": null}");
    Files.writeString(dir.resolve("special_tokens_map.json"),
        "{\"eos_token\": {\"content\": \"[SEP]\"}, \"bos_token\": \"[UNK]\"}");
    Files.writeString(dir.resolve("tokenizer_config.json"),
        "{\"bos_token\": \"[CLS]\", \"pad_token\": \"[PAD]\"}");
    HfTokenizer configured = HfTokenizer.load(dir);
    assertEquals(2, configured.bosId()); // tokenizer_config.json wins over the others
    assertEquals(3, configured.eosId()); // special_tokens_map.json
    assertEquals(0, configured.padId());

    Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
    Files.writeString(dir.resolve("special_tokens_map.json"), "{}");
    HfTokenizer fromConfig = HfTokenizer.load(dir);
    assertEquals(2, fromConfig.bosId());
    assertEquals(3, fromConfig.eosId()); // first of the list
    assertEquals(3, fromConfig.padId()); // none declared: the eos
  }

  @Test
  void unknownSpecialTokenIsReportedWithFileAndKey(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), TINY);
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    var e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
    assertEquals(dir.resolve("tokenizer_config.json") + ": eos_token \"</s>\" is not a token of"
        + " the tokenizer", e.getMessage());

    Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
    Files.writeString(dir.resolve("config.json"), "{\"eos_token_id\": 50256}");
    e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
    assertTrue(e.getMessage().startsWith(dir.resolve("config.json") + ": eos_token_id 50256"),
        e.getMessage());
  }

  @Test
  void malformedFilesAreReported(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {}},\n  oops}");
    var e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
    assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ":2:"), e.getMessage());

    Files.writeString(dir.resolve("tokenizer.json"),
        "{\"model\": {\"type\": \"Nope\", \"vocab\": {}}}");
    e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
    assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ": Hugging Face"),
        e.getMessage());
  }

  @Test
  void gpt2TokenizerJsonGivesTheIdsOfGpt2Bpe(@TempDir Path dir) throws IOException {
    Gpt2Samples.writeTokenizerJson(dir.resolve("tokenizer.json"));
    Files.writeString(dir.resolve("config.json"),
        "{\"bos_token_id\": 50256, \"eos_token_id\": 50256}");
    HfTokenizer hf = HfTokenizer.load(dir);
    Gpt2BpeTokenizer bpe = Gpt2Samples.tokenizer();
    for (var s : Gpt2Samples.SAMPLES) {
      assertArrayEquals(bpe.encode(s.text()), hf.encode(s.text()), s.text());
      assertEquals(s.text(), hf.decode(s.ids()), s.text());
    }
    // Longer than any default maximum length: nothing is truncated.
    String essay = String.join(" ", Collections.nCopies(300, "It's the <|endoftext|>"
        + " end of text, 123!"));
    assertArrayEquals(bpe.encode(essay), hf.encode(essay));
    assertEquals(50257, hf.vocabSize());
    assertEquals(50256, hf.bosId());
    assertEquals(50256, hf.eosId());
    assertEquals(50256, hf.padId());
  }

  @Test
  void concurrentEncodesAgree(@TempDir Path dir) throws Exception {
    Gpt2Samples.writeTokenizerJson(dir.resolve("tokenizer.json"));
    HfTokenizer hf = HfTokenizer.load(dir);
    try (var pool = Executors.newFixedThreadPool(4)) {
      List<Future<int[]>> results = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        var s = Gpt2Samples.SAMPLES.get(i % Gpt2Samples.SAMPLES.size());
        results.add(pool.submit(() -> hf.encode(s.text())));
      }
      for (int i = 0; i < results.size(); i++) {
        assertArrayEquals(Gpt2Samples.SAMPLES.get(i % Gpt2Samples.SAMPLES.size()).ids(),
            results.get(i).get());
      }
    }
  }
}
