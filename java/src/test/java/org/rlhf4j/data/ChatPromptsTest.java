package org.rlhf4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;

/** PPO's prompts in TRL's conversational form, rendered with the generation prompt. */
class ChatPromptsTest {
  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  private PromptPool load(Path prompts, String template, int maxPromptTokens, TooLong tooLong) throws IOException {
    Path model = TinyCheckpoints.writeChatTemplate(dir.resolve("model"), template);
    DataSection data = new DataSection(prompts, Format.AUTO, "prompt", null, 0, maxPromptTokens, tooLong, false);
    return PromptPool.load(data, 0, tok, new ChatPrompts(model));
  }

  private Path file(String... lines) throws IOException {
    return Files.write(dir.resolve("p.jsonl"), List.of(lines));
  }

  private static final String CHAT = "{\"prompt\": [{\"role\": \"system\", \"content\": \"it is\"},"
      + " {\"role\": \"user\", \"content\": \"the food was\"}], \"id\": 3}";

  @Test
  void aConversationIsRenderedWithTheGenerationPromptAndTokenizedWithoutASecondBos() throws IOException {
    PromptPool pool = load(file(CHAT, "{\"prompt\": \"the food was\"}"), TinyCheckpoints.CHAT_TEMPLATE, 32,
        TooLong.SKIP);
    Prompt chat = pool.next(1).getFirst();
    String rendered = "<bos>system it is <eos> user the food was <eos> assistant ";
    assertEquals(rendered, chat.text());
    assertArrayEquals(tok.encode(rendered), chat.tokens());
    assertEquals(1, Arrays.stream(chat.tokens()).filter(t -> t == tok.bosId()).count());
    assertEquals(Map.of("id", 3), chat.fields());
    Prompt plain = pool.next(1).getFirst();
    assertArrayEquals(tok.encodePrompt("the food was"), plain.tokens(), "a string prompt as before");
  }

  @Test
  void aLongConversationKeepsItsEndWithTheGenerationPrompt() throws IOException {
    PromptPool pool = load(file(CHAT), TinyCheckpoints.CHAT_TEMPLATE, 4, TooLong.TRUNCATE);
    assertArrayEquals(tok.encode("food was <eos> assistant"), pool.next(1).getFirst().tokens());
    assertEquals(1, pool.truncated());
  }

  @Test
  void badConversationsAndAMissingTemplateNameTheLineAndTheField() throws IOException {
    Path bad = file(CHAT, "{\"prompt\": [{\"role\": \"user\"}]}");
    DataException e = assertThrows(DataException.class, () -> load(bad, TinyCheckpoints.CHAT_TEMPLATE, 32,
        TooLong.SKIP));
    assertEquals(bad + ":2: prompt[0]: \"content\" must be a string and is missing", e.getMessage());
    DataException none = assertThrows(DataException.class, () -> load(file(CHAT), null, 32, TooLong.SKIP));
    assertTrue(none.getMessage().startsWith(dir.resolve("p.jsonl") + ":1: prompt: conversational data needs a chat"
        + " template"), none.getMessage());
    assertFalse(none.getMessage().contains("\n"));
  }
}
