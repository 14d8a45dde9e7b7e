package org.rlhf4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WordTokenizerTest {
  static final WordTokenizer WORDS = WordTokenizer.of(List.of(
      "the", "food", "was", "great", "and", "staff", "kind", "it", "s", "don", "t", "like", "wow"));

  /** Sentences in normal form, all words known. */
  static final List<String> NORMAL = List.of(
      "the food was great, and the staff was kind.",
      "wow!! it's great?",
      "don't like the food.",
      "'the staff'",
      "");

  @Test
  void idsAreSpecialsThenPunctuationThenWords() {
    assertEquals(List.of("<pad>", "<bos>", "<eos>", "<unk>", ".", ",", "!", "?", "'", "the"),
        WORDS.vocabulary().subList(0, 10));
    assertEquals(0, WORDS.padId());
    assertEquals(1, WORDS.bosId());
    assertEquals(2, WORDS.eosId());
    assertEquals(3, WORDS.unkId());
    assertEquals(22, WORDS.vocabSize());
  }

  @Test
  void encodeSplitsWhitespaceAndPunctuation() {
    assertArrayEquals(new int[] {9, 10, 11, 12, 5, 13, 9, 14, 11, 15, 4},
        WORDS.encode("the food was great, and the staff was kind."));
    assertArrayEquals(WORDS.encode("the food was great, and the staff was kind."),
        WORDS.encode("  the food\twas great ,and the\nstaff was kind . "));
  }

  @Test
  void decodeWritesTheNormalFormAndRoundTripsIt() {
    assertEquals("the food was great, and the staff was kind.",
        WORDS.decode(WORDS.encode("the food was great , and the staff was kind .")));
    for (String s : NORMAL) assertEquals(s, WORDS.decode(WORDS.encode(s)), s);
  }

  @Test
  void unknownWordsAreUnk() {
    assertArrayEquals(new int[] {9, 3, 11, 3, 4}, WORDS.encode("the soup was Great."));
    assertEquals("the <unk> was <unk>.", WORDS.decode(WORDS.encode("the soup was Great.")));
  }

  @Test
  void specialTokensAreRecognisedInTextAndSkippedOnRequest() {
    int[] ids = WORDS.encode("<bos>the food<eos><pad>");
    assertArrayEquals(new int[] {1, 9, 10, 2, 0}, ids);
    assertEquals("the food", WORDS.decode(ids));
    assertEquals("<bos> the food <eos> <pad>", WORDS.decode(ids, false));
  }

  @Test
  void saveThenLoadGivesTheSameTokenizer(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    WORDS.save(file);
    WordTokenizer loaded = WordTokenizer.load(file);
    assertEquals(WORDS.vocabulary(), loaded.vocabulary());
    for (String s : List.of("the soup was great!!", "<bos>it's kind<eos>")) {
      assertArrayEquals(WORDS.encode(s), loaded.encode(s), s);
    }
  }

  @Test
  void huggingFaceTokenizersReadTheSavedFileWithTheSameIds(@TempDir Path dir) throws IOException {
    WORDS.save(dir.resolve("tokenizer.json"));
    HfTokenizer hf = HfTokenizer.load(dir);
    List<String> texts = List.of("the food was great , and the staff was kind .",
        "wow!!! it's, like ... great?!", "the\u00a0food\u3000was  \t kind", "café, soup's great",
        "<bos>the food<eos>", "<unk> the <pad>");
    for (String s : texts) assertArrayEquals(WORDS.encode(s), hf.encode(s), s);
    assertEquals(WORDS.vocabSize(), hf.vocabSize());
    assertEquals("the food was great , and", hf.decode(WORDS.encode("the food was great, and")));
  }

  @Test
  void badWordsAreRefused() {
    for (String bad : List.of("", "two words", "great!", "'", "<eos>", "the")) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> WordTokenizer.of(List.of("the", bad)), bad);
      assertTrue(e.getMessage().contains("\"" + bad + "\""), e.getMessage());
    }
  }

  @Test
  void loadRefusesOtherTokenizers(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    Gpt2Samples.writeTokenizerJson(file);
    var e = assertThrows(IOException.class, () -> WordTokenizer.load(file));
    assertTrue(e.getMessage().startsWith(file + ": not a word tokenizer"), e.getMessage());
  }

  @Test
  void loadReportsHolesInTheVocabulary(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    WORDS.save(file);
    Files.writeString(file, Files.readString(file).replace("\"the\" : 9", "\"the\" : 99"));
    var e = assertThrows(IOException.class, () -> WordTokenizer.load(file));
    assertTrue(e.getMessage().contains("model.vocab: token \"the\" has id 99"), e.getMessage());
  }
}
