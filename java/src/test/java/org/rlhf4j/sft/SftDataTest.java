package org.rlhf4j.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.rlhf4j.train.ExampleEncoder;
import org.rlhf4j.train.SftExample;

class SftDataTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  private static DataSection data(Path file, double evalFraction, int maxPromptTokens, TooLong tooLong) {
    return new DataSection(file, Format.AUTO, "prompt", null, evalFraction, maxPromptTokens, tooLong, true);
  }

  private Path file(String name, String... lines) throws IOException {
    return Files.write(dir.resolve(name), List.of(lines));
  }

  private int[] concat(int[]... parts) {
    List<Integer> all = new ArrayList<>();
    for (int[] p : parts) for (int t : p) all.add(t);
    return all.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void promptCompletionIsPromptThenCompletionThenEosWithLossOnTheCompletionOnly() throws IOException {
    Path f = file("d.jsonl", "{\"prompt\": \"the food was\", \"completion\": \"very good\", \"id\": 3}",
        "{\"text\": \"one two three\"}");
    SftData d = SftData.load(data(f, 0, 16, TooLong.SKIP), 32, 0, tok);
    SftExample pc = d.train().get(0);
    int[] prompt = tok.encodePrompt("the food was");
    assertEquals(tok.bosId(), prompt[0], "the word tokenizer starts prompts with BOS");
    assertArrayEquals(concat(prompt, tok.encode("very good"), new int[] {tok.eosId()}), pc.tokens());
    assertEquals(prompt.length, pc.promptLength());
    assertEquals(3, pc.targets(), "very, good and EOS");

    SftExample text = d.train().get(1);
    assertArrayEquals(concat(tok.encodePrompt("one two three"), new int[] {tok.eosId()}), text.tokens());
    assertEquals(0, text.promptLength());
    assertEquals(4, text.targets(), "every token after BOS");
  }

  @Test
  void plainTextLinesAreTexts() throws IOException {
    SftData d = SftData.load(data(file("d.txt", "one two", "three"), 0, 16, TooLong.SKIP), 32, 0, tok);
    assertEquals(2, d.train().size());
    assertArrayEquals(new int[] {tok.bosId(), tok.encode("three")[0], tok.eosId()}, d.train().get(1).tokens());
  }

  @Test
  void aCompletionEndingWithEosGetsNoSecondOne() {
    ExampleEncoder e = new ExampleEncoder(tok, data(dir, 0, 16, TooLong.SKIP), 32);
    int[] tokens = e.encode("x", "one", "two <eos>").example().tokens();
    assertEquals(4, tokens.length);
    assertEquals(tok.eosId(), tokens[3]);
  }

  @Test
  void tooLongExamplesAreSkippedOrTruncatedAndCounted() throws IOException {
    Path f = file("d.jsonl",
        "{\"prompt\": \"one two three four five\", \"completion\": \"six\"}",  // prompt: BOS + 5 > 4
        "{\"prompt\": \"one\", \"completion\": \"two three four five six seven\"}",  // 2 + 6 + 1 > 8
        "{\"prompt\": \"one\", \"completion\": \"two\"}");
    SftData skipped = SftData.load(data(f, 0, 4, TooLong.SKIP), 8, 0, tok);
    assertEquals(1, skipped.train().size());
    assertEquals(2, skipped.skippedTooLong());
    assertEquals(0, skipped.truncated());

    SftData cut = SftData.load(data(f, 0, 4, TooLong.TRUNCATE), 8, 0, tok);
    assertEquals(3, cut.train().size());
    assertEquals(2, cut.truncated());
    // The prompt keeps BOS and its last tokens; the sequence keeps its first max_seq_len tokens.
    assertArrayEquals(concat(new int[] {tok.bosId()}, tok.encode("three four five six"), new int[] {tok.eosId()}),
        cut.train().get(0).tokens());
    assertEquals(4, cut.train().get(0).promptLength());
    assertArrayEquals(tok.encodePrompt("one two three four five six seven"), cut.train().get(1).tokens());
  }

  @Test
  void theHeldOutSplitIsSeededAndAFileReplacesIt() throws IOException {
    String[] lines = new String[20];
    for (int i = 0; i < lines.length; i++) {
      lines[i] = "{\"prompt\": \"one\", \"completion\": \"" + TinyCheckpoints.WORDS.get(i) + "\"}";
    }
    Path f = file("d.jsonl", lines);
    SftData a = SftData.load(data(f, 0.25, 16, TooLong.SKIP), 32, 5, tok);
    assertEquals(15, a.train().size());
    assertEquals(5, a.eval().size());
    assertEquals(a, SftData.load(data(f, 0.25, 16, TooLong.SKIP), 32, 5, tok));
    assertEquals(20, new HashSet<>(concatLists(a.train(), a.eval())).size(), "every line on exactly one side");
    SftData b = SftData.load(data(f, 0.25, 16, TooLong.SKIP), 32, 6, tok);
    assertEquals(5, b.eval().size());
    assertNotEquals(a.eval(), b.eval(), "another seed holds out other lines");

    Path evalFile = file("e.jsonl", "{\"text\": \"one two\"}");
    SftData withFile = SftData.load(new DataSection(f, Format.AUTO, "prompt", evalFile, 0.25, 16, TooLong.SKIP, true),
        32, 5, tok);
    assertEquals(20, withFile.train().size());
    assertEquals(1, withFile.eval().size());
  }

  private static List<SftExample> concatLists(List<SftExample> a, List<SftExample> b) {
    List<SftExample> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  @Test
  void badLinesNameFileAndLine() throws IOException {
    assertEquals("d.jsonl:2: missing field 'completion' (a prompt needs its completion)",
        error("{\"text\": \"one\"}", "{\"prompt\": \"one\"}"));
    assertEquals("d.jsonl:1: expected fields 'messages', or 'prompt' and 'completion', or 'text'", error("{\"input\": \"one\"}"));
    assertEquals("d.jsonl:1: field 'completion' must be a string, got a number",
        error("{\"prompt\": \"one\", \"completion\": 2}"));
    assertEquals("d.jsonl:1: missing field 'prompt'", error("{\"completion\": \"two\"}"));
  }

  private String error(String... lines) throws IOException {
    Path f = file("d.jsonl", lines);
    return assertThrows(DataException.class, () -> SftData.load(data(f, 0, 16, TooLong.SKIP), 32, 0, tok))
        .getMessage().replace(dir + "/", "");
  }

  @Test
  void aTokenizerWithoutEosIsRefused() {
    var noEos = new org.rlhf4j.tokenizer.Tokenizer() {
      public int[] encode(String text) {
        return new int[] {1};
      }

      public String decode(int[] ids, boolean skip) {
        return "";
      }

      public int vocabSize() {
        return 2;
      }

      public int bosId() {
        return -1;
      }

      public int eosId() {
        return -1;
      }

      public int padId() {
        return 0;
      }
    };
    assertThrows(IllegalArgumentException.class, () -> new ExampleEncoder(noEos, data(dir, 0, 16, TooLong.SKIP), 32));
  }
}
