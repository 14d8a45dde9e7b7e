package org.rlhf4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Gpt2BpeTokenizerTest {
  static Gpt2BpeTokenizer gpt2;

  @BeforeAll
  static void load() throws IOException {
    gpt2 = Gpt2Samples.tokenizer();
  }

  @Test
  void encodesLikeTheReferenceJavaScriptEncoder() {
    for (var s : Gpt2Samples.SAMPLES) {
      assertArrayEquals(s.ids(), gpt2.encode(s.text()), () -> "ids of \"" + s.text() + "\"");
    }
  }

  @Test
  void decodeRoundTrips() {
    for (var s : Gpt2Samples.SAMPLES) {
      assertEquals(s.text(), gpt2.decode(s.ids()), () -> "text of \"" + s.text() + "\"");
    }
  }

  @Test
  void endOfTextIsEverySpecialIdAndTheVocabularyIsGpt2s() {
    assertEquals(50257, gpt2.vocabSize());
    assertEquals(50256, gpt2.bosId());
    assertEquals(50256, gpt2.eosId());
    assertEquals(50256, gpt2.padId());
  }

  @Test
  void endOfTextInTextIsItsIdAndDecodeMaySkipIt() {
    int[] hello = gpt2.encode("Hello");
    int[] world = gpt2.encode(" world");
    int[] ids = gpt2.encode("Hello<|endoftext|> world");
    int[] expected = IntStream.concat(IntStream.concat(IntStream.of(hello), IntStream.of(50256)),
        IntStream.of(world)).toArray();
    assertArrayEquals(expected, ids);
    assertEquals("Hello<|endoftext|> world", gpt2.decode(ids, false));
    assertEquals("Hello world", gpt2.decode(ids, true));
  }

  @Test
  void invalidUtf8DecodesToReplacementCharacters() {
    int[] smiley = gpt2.encode("😀"); // F0 9F 98 | 80
    assertArrayEquals(new int[] {47249, 222}, smiley);
    String head = gpt2.decode(new int[] {smiley[0]});
    assertTrue(!head.isEmpty() && head.chars().allMatch(c -> c == '\uFFFD'), head);
    int a = gpt2.encode("a")[0];
    int b = gpt2.encode("b")[0];
    assertEquals("a\uFFFDb", gpt2.decode(new int[] {a, smiley[1], b}));
  }

  @Test
  void decodeRejectsIdsOutsideTheVocabulary() {
    var e = assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {50257}));
    assertTrue(e.getMessage().contains("50257"), e.getMessage());
  }

  @Test
  void concurrentEncodesAgree() throws Exception {
    var fresh = Gpt2Samples.tokenizer();
    try (var pool = Executors.newFixedThreadPool(4)) {
      List<Future<int[]>> results = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        var s = Gpt2Samples.SAMPLES.get(i % Gpt2Samples.SAMPLES.size());
        results.add(pool.submit(() -> fresh.encode(s.text())));
      }
      for (int i = 0; i < results.size(); i++) {
        assertArrayEquals(Gpt2Samples.SAMPLES.get(i % Gpt2Samples.SAMPLES.size()).ids(),
            results.get(i).get());
      }
    }
  }

  @Test
  void malformedMergeLineIsReportedWithItsLineNumber(@TempDir Path dir) throws IOException {
    Path merges = dir.resolve("merges.txt");
    Files.writeString(merges, "#version: 0.2\nĠ t\nĠta\n");
    var e = assertThrows(IOException.class,
        () -> Gpt2BpeTokenizer.load(Gpt2Samples.encoderJson(), merges));
    assertTrue(e.getMessage().contains("merges.txt:3"), e.getMessage());
  }

  @Test
  void mergeOfUnknownTokensIsReported(@TempDir Path dir) throws IOException {
    Path merges = dir.resolve("merges.txt");
    Files.writeString(merges, "#version: 0.2\nĠ t\nzzqx zzqy\n");
    var e = assertThrows(IOException.class,
        () -> Gpt2BpeTokenizer.load(Gpt2Samples.encoderJson(), merges));
    assertTrue(e.getMessage().contains("merges.txt:3") && e.getMessage().contains("zzqx"),
        e.getMessage());
  }
}
