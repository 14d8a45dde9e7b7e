package org.rlhf4j.rm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

class PreferenceDataTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  private PreferenceData load(TooLong tooLong, String... lines) throws IOException {
    Path f = Files.write(dir.resolve("p.jsonl"), List.of(lines));
    return PreferenceData.load(new DataSection(f, Format.AUTO, "prompt", null, 0, 4, tooLong, true), 8, 0, tok);
  }

  @Test
  void explicitAndImplicitPromptsGiveTheSameTokens() throws IOException {
    PreferenceData d = load(TooLong.SKIP,
        "{\"prompt\": \"the food was\", \"chosen\": \"good\", \"rejected\": \"bad\"}",
        "{\"chosen\": \"the food was good\", \"rejected\": \"the food was bad\"}");
    int eos = tok.eosId();
    int[] chosen = {tok.bosId(), tok.encode("the")[0], tok.encode("food")[0], tok.encode("was")[0],
        tok.encode("good")[0], eos};
    assertArrayEquals(chosen, d.train().get(0).chosen());
    assertEquals(d.train().get(0), d.train().get(1));
  }

  @Test
  void aPairWithASideOverTheLimitIsSkippedOrTruncatedAsAWhole() throws IOException {
    String line = "{\"prompt\": \"one\", \"chosen\": \"two\", \"rejected\": \"two three four five six seven\"}";
    String ok = "{\"prompt\": \"one\", \"chosen\": \"two\", \"rejected\": \"three\"}";
    PreferenceData skipped = load(TooLong.SKIP, line, ok);
    assertEquals(1, skipped.train().size());
    assertEquals(1, skipped.skippedTooLong());
    PreferenceData cut = load(TooLong.TRUNCATE, line, ok);
    assertEquals(2, cut.train().size());
    assertEquals(1, cut.truncated());
    assertEquals(8, cut.train().get(0).rejected().length);
  }

  @Test
  void badLinesNameFileAndLine() {
    assertEquals("p.jsonl:1: missing field 'rejected'", error("{\"prompt\": \"one\", \"chosen\": \"two\"}"));
    assertEquals("p.jsonl:1: expected fields 'chosen' and 'rejected' (and 'prompt' unless they are full texts)",
        error("{\"prompt\": \"one\", \"completion\": \"two\"}"));
    assertEquals("p.jsonl:1: field 'chosen' is empty", error("{\"chosen\": \" \", \"rejected\": \"two\"}"));
  }

  private String error(String line) {
    return assertThrows(DataException.class, () -> load(TooLong.SKIP, line)).getMessage().replace(dir + "/", "");
  }
}
