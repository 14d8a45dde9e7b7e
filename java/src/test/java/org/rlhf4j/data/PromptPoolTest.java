package org.rlhf4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;

class PromptPoolTest {
  @TempDir Path dir;

  private final WhitespaceTokenizer tokenizer = new WhitespaceTokenizer();

  /** n text prompts "prompt i", one a line. */
  private Path numbered(int n) throws IOException {
    Path p = dir.resolve("prompts.txt");
    Files.write(p, IntStream.range(0, n).mapToObj(i -> "prompt " + i).toList());
    return p;
  }

  private static DataSection data(Path prompts, double evalFraction, int maxTokens, TooLong tooLong, boolean shuffle) {
    return new DataSection(prompts, Format.AUTO, "prompt", null, evalFraction, maxTokens, tooLong, shuffle);
  }

  private PromptPool pool(Path prompts, long seed) throws IOException {
    return PromptPool.load(data(prompts, 0, 64, TooLong.SKIP, true), seed, tokenizer);
  }

  private static List<Integer> indices(List<Prompt> prompts) {
    return prompts.stream().map(Prompt::index).toList();
  }

  @Test
  void sameSeedGivesTheSameOrderAndDifferentSeedsDiffer() throws IOException {
    Path p = numbered(10);
    List<Integer> a = indices(pool(p, 7).next(25));
    assertEquals(a, indices(pool(p, 7).next(25)));
    assertNotEquals(a, indices(pool(p, 8).next(25)));
  }

  @Test
  void everyEpochVisitsEachPromptOnceInItsOwnOrder() throws IOException {
    PromptPool pool = pool(numbered(10), 3);
    List<Integer> epoch0 = indices(pool.next(4));
    List<Integer> rest = indices(pool.next(16)); // 6 of epoch 0, then 10 of epoch 1
    List<Integer> all0 = new ArrayList<>(epoch0);
    all0.addAll(rest.subList(0, 6));
    List<Integer> epoch1 = rest.subList(6, 16);
    Set<Integer> each = new HashSet<>(IntStream.range(0, 10).boxed().toList());
    assertEquals(each, new HashSet<>(all0));
    assertEquals(10, new HashSet<>(all0).size());
    assertEquals(each, new HashSet<>(epoch1));
    assertNotEquals(all0, epoch1);
  }

  @Test
  void withoutShuffleEpochsFollowTheFile() throws IOException {
    PromptPool pool = PromptPool.load(data(numbered(3), 0, 64, TooLong.SKIP, false), 1, tokenizer);
    assertEquals(List.of(0, 1, 2, 0, 1, 2, 0), indices(pool.next(7)));
  }

  @Test
  void restoredCursorContinuesTheSameSequence() throws IOException {
    Path p = numbered(10);
    PromptPool first = pool(p, 11);
    first.next(7);
    first.next(9); // now in epoch 1
    String json = new ObjectMapper().writeValueAsString(first.cursor());
    PromptCursor saved = new ObjectMapper().readValue(json, PromptCursor.class);
    assertEquals(first.cursor(), saved);
    assertEquals(1, saved.epoch());
    assertEquals(6, saved.position());

    PromptPool resumed = pool(p, 11);
    resumed.restore(saved);
    assertEquals(indices(first.next(23)), indices(resumed.next(23)));
  }

  @Test
  void cursorOfOtherPromptsOrSeedIsRefused() throws IOException {
    Path p = numbered(10);
    PromptCursor c = pool(p, 1).cursor();
    DataException e = assertThrows(DataException.class, () -> pool(p, 2).restore(c));
    assertTrue(e.getMessage().startsWith("cannot resume the prompt order"), e.getMessage());
    assertThrows(DataException.class, () -> pool(numbered(9), 1).restore(c));
  }

  @Test
  void tooLongPromptsAreSkippedAndCounted() throws IOException {
    Path p = dir.resolve("p.txt");
    Files.writeString(p, "a b c\na b c d e f g h\na b c d e\nl1 l2 l3 l4 l5 l6 l7 l8 l9 l10 l11 l12\n");
    PromptPool pool = PromptPool.load(data(p, 0, 5, TooLong.SKIP, false), 0, tokenizer);
    assertEquals(2, pool.size());
    assertEquals(2, pool.skippedTooLong());
    assertEquals(0, pool.truncated());
    assertEquals(List.of(0, 2), indices(pool.next(2)));
  }

  @Test
  void tooLongPromptsAreTruncatedToTheirLastTokens() throws IOException {
    Path p = dir.resolve("p.txt");
    Files.writeString(p, "a b c\nl1 l2 l3 l4 l5 l6 l7 l8 l9 l10 l11 l12\n");
    PromptPool pool = PromptPool.load(data(p, 0, 5, TooLong.TRUNCATE, false), 0, tokenizer);
    assertEquals(2, pool.size());
    assertEquals(0, pool.skippedTooLong());
    assertEquals(1, pool.truncated());
    Prompt cut = pool.next(2).get(1);
    assertEquals("l8 l9 l10 l11 l12", cut.text());
    assertArrayEquals(tokenizer.encode("l8 l9 l10 l11 l12"), cut.tokens());
    assertEquals(1, cut.index());
  }

  @Test
  void allPromptsTooLongIsAnError() throws IOException {
    Path p = dir.resolve("p.txt");
    Files.writeString(p, "a b c\nd e f\n");
    DataException e = assertThrows(DataException.class,
        () -> PromptPool.load(data(p, 0, 2, TooLong.SKIP, true), 0, tokenizer));
    assertEquals(p + ": no training prompts left: all 2 are longer than data.max_prompt_tokens (2)", e.getMessage());
  }

  @Test
  void jsonlKeepsTheOtherFields() throws IOException {
    Path p = dir.resolve("p.jsonl");
    Files.writeString(p, """
        {"question": "what is two plus two", "answer": "4", "n": 3, "tags": ["math"], "meta": null}
        {"question": "name a colour"}
        """);
    DataSection d = new DataSection(p, Format.AUTO, "question", null, 0, 64, TooLong.SKIP, false);
    List<Prompt> prompts = PromptPool.load(d, 0, tokenizer).next(2);
    assertEquals("what is two plus two", prompts.get(0).text());
    assertEquals("4", prompts.get(0).fields().get("answer"));
    assertEquals(3, prompts.get(0).fields().get("n"));
    assertEquals(List.of("math"), prompts.get(0).fields().get("tags"));
    assertTrue(prompts.get(0).fields().containsKey("meta"));
    assertEquals(Set.of("answer", "n", "tags", "meta"), prompts.get(0).fields().keySet());
    assertTrue(prompts.get(1).fields().isEmpty());
  }

  @Test
  void evalFractionSplitsDeterministicallyAndDisjointly() throws IOException {
    Path p = numbered(40);
    PromptPool a = PromptPool.load(data(p, 0.25, 64, TooLong.SKIP, true), 5, tokenizer);
    assertEquals(10, a.eval().size());
    assertEquals(30, a.size());
    Set<Integer> train = new HashSet<>(indices(a.next(30)));
    Set<Integer> eval = new HashSet<>(indices(a.eval()));
    assertEquals(30, train.size());
    assertTrue(train.stream().noneMatch(eval::contains));
    List<Integer> evalOrder = indices(a.eval());
    assertEquals(evalOrder.stream().sorted().toList(), evalOrder);
    assertEquals(evalOrder, indices(PromptPool.load(data(p, 0.25, 64, TooLong.SKIP, true), 5, tokenizer).eval()));
    assertNotEquals(evalOrder, indices(PromptPool.load(data(p, 0.25, 64, TooLong.SKIP, true), 6, tokenizer).eval()));
    assertEquals(1, PromptPool.load(data(numbered(4), 0.05, 64, TooLong.SKIP, true), 5, tokenizer).eval().size());
  }

  @Test
  void evalFileReplacesTheSplit() throws IOException {
    Path p = numbered(10);
    Path e = dir.resolve("eval.txt");
    Files.writeString(e, "held out one\nheld out two\n");
    DataSection d = new DataSection(p, Format.AUTO, "prompt", e, 0.5, 64, TooLong.SKIP, true);
    PromptPool pool = PromptPool.load(d, 0, tokenizer);
    assertEquals(10, pool.size());
    assertEquals(List.of("held out one", "held out two"), pool.eval().stream().map(Prompt::text).toList());
  }

  @Test
  void autoFormatSniffsUnknownExtensions() throws IOException {
    Path p = dir.resolve("prompts.data");
    Files.writeString(p, "{\"prompt\": \"x y\"}\n");
    assertEquals("x y", pool(p, 0).next(1).getFirst().text());
    Path t = dir.resolve("braces.txt");
    Files.writeString(t, "{\"prompt\": \"x y\"}\n");
    assertEquals("{\"prompt\": \"x y\"}", pool(t, 0).next(1).getFirst().text());
  }
}
