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

  private static final String IMPLICIT = "{\"chosen\": [{\"role\": \"user\", \"content\": \"the food was\"},"
      + " {\"role\": \"assistant\", \"content\": \"very good\"}],"
      + " \"rejected\": [{\"role\": \"user\", \"content\": \"the food was\"},"
      + " {\"role\": \"assistant\", \"content\": \"bad\"}]}";

  @Test
  void anImplicitPromptIsTheMessagesBothSidesBeginWith() throws IOException {
    DpoPair explicit = DpoData.load(data(PAIR), 32, 0, tok, chat()).train().getFirst();
    DpoPair implicit = DpoData.load(data(IMPLICIT), 32, 0, tok, chat()).train().getFirst();
    assertArrayEquals(explicit.prompt(), implicit.prompt());
    assertArrayEquals(explicit.chosen(), implicit.chosen());
    assertArrayEquals(explicit.rejected(), implicit.rejected());
    PreferencePair rm = PreferenceData.load(data(IMPLICIT), 32, 0, tok, chat()).train().getFirst();
    assertArrayEquals(tok.encode(PROMPT + "very good <eos> "), rm.chosen());
    assertArrayEquals(tok.encode(PROMPT + "bad <eos> "), rm.rejected());

    // Two turns in common: the prompt ends with the second user message.
    DpoPair twoTurns = DpoData.load(data("{\"chosen\": [" + USER_ONE + ", " + ASSISTANT_ONE + ", " + USER_TWO
        + ", {\"role\": \"assistant\", \"content\": \"good\"}], \"rejected\": [" + USER_ONE + ", " + ASSISTANT_ONE
        + ", " + USER_TWO + ", {\"role\": \"assistant\", \"content\": \"bad\"}]}"), 32, 0, tok, chat())
        .train().getFirst();
    assertArrayEquals(
        tok.encode("<bos>user the food was <eos> assistant very good <eos> user and it is <eos> assistant "),
        twoTurns.prompt());
    assertArrayEquals(new int[] {tok.encode("good")[0], tok.eosId(), tok.eosId()}, twoTurns.chosen());
  }

  private static final String USER_ONE = "{\"role\": \"user\", \"content\": \"the food was\"}";
  private static final String ASSISTANT_ONE = "{\"role\": \"assistant\", \"content\": \"very good\"}";
  private static final String USER_TWO = "{\"role\": \"user\", \"content\": \"and it is\"}";

  @Test
  void anImplicitPairWithoutASharedStartOrWithNothingAfterItIsAnErrorNamingTheLine() throws IOException {
    DataSection apart = data(PAIR, "{\"chosen\": [" + USER_ONE + "], \"rejected\": [" + USER_TWO + "]}");
    DataException e = assertThrows(DataException.class, () -> DpoData.load(apart, 32, 0, tok, chat()));
    assertEquals(apart.prompts() + ":2: 'chosen' and 'rejected' begin with different messages, so no prompt can be"
        + " taken from them (give 'prompt')", e.getMessage());
    DataSection nothingAfter = data("{\"chosen\": [" + USER_ONE + ", " + ASSISTANT_ONE + "], \"rejected\": [" + USER_ONE
        + "]}");
    e = assertThrows(DataException.class, () -> PreferenceData.load(nothingAfter, 32, 0, tok, chat()));
    assertEquals(nothingAfter.prompts() + ":1: rejected: no messages after the 1 both sides begin with",
        e.getMessage());
    DataSection notAList = data("{\"chosen\": [" + USER_ONE + ", " + ASSISTANT_ONE + "], \"rejected\": \"bad\"}");
    e = assertThrows(DataException.class, () -> DpoData.load(notAList, 32, 0, tok, chat()));
    assertEquals(notAList.prompts() + ":1: rejected: expected a list of messages, as chosen is", e.getMessage());
  }
}
