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
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.DataException;
import org.rlhf4j.dpo.DpoData;
import org.rlhf4j.dpo.DpoPair;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/** TRL's conversational preference pairs for train-rm and dpo: each side continues the prompt's rendering. */
class ConversationalPairsTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  private static final String PAIR = "{\"prompt\": [{\"role\": \"user\", \"content\": \"the food was\"}],"
      + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"very good\"}],"
      + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bad\"}]}";
  private static final String PROMPT = "<bos>user the food was <eos> assistant ";

  private DataSection data(String... lines) throws IOException {
    Path f = Files.write(dir.resolve("pairs.jsonl"), List.of(lines));
    return new DataSection(f, Format.AUTO, "prompt", null, 0, 4, TooLong.SKIP, true);
  }

  private ChatPrompts chat() {
    return new ChatPrompts(TinyCheckpoints.writeChatTemplate(dir.resolve("model"), TinyCheckpoints.CHAT_TEMPLATE));
  }

  @Test
  void rewardModelSidesAreTheWholeRenderedConversations() throws IOException {
    PreferencePair p = PreferenceData.load(data(PAIR, "{\"prompt\": \"one\", \"chosen\": \"two\", \"rejected\": \"three\"}"),
        32, 0, tok, chat()).train().getFirst();
    assertArrayEquals(tok.encode(PROMPT + "very good <eos> "), p.chosen(), "one BOS, the template's end of turn");
    assertArrayEquals(tok.encode(PROMPT + "bad <eos> "), p.rejected());
  }

  @Test
  void dpoSidesAreTheTokensAfterThePromptWithItsGenerationPrompt() throws IOException {
    DpoPair p = DpoData.load(data(PAIR), 32, 0, tok, chat()).train().getFirst();
    assertArrayEquals(tok.encode(PROMPT), p.prompt());
    assertArrayEquals(new int[] {tok.encode("very")[0], tok.encode("good")[0], tok.eosId(), tok.eosId()}, p.chosen(),
        "the assistant turn with its end of turn, then EOS as TRL appends it");
    assertArrayEquals(new int[] {tok.encode("bad")[0], tok.eosId(), tok.eosId()}, p.rejected());
  }

  @Test
  void aSideThatIsNotAConversationIsAnErrorNamingIt() throws IOException {
    DataSection bad = data("{\"prompt\": [{\"role\": \"user\", \"content\": \"one\"}], \"chosen\": \"two\","
        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"three\"}]}");
    DataException e = assertThrows(DataException.class, () -> DpoData.load(bad, 32, 0, tok, chat()));
    assertEquals(bad.prompts() + ":1: chosen: expected a list of messages, as the prompt is", e.getMessage());
  }
}
