package org.rlhf4j.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.config.DataSection;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.testing.TinyCheckpoints;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.rlhf4j.train.SftExample;

/** SFT on TRL's conversational format, with a small ChatML-like template over the word tokenizer. */
class ConversationSftTest {
  private static final String TEMPLATE = TinyCheckpoints.CHAT_TEMPLATE;

  @TempDir Path dir;
  private final WordTokenizer tok = TinyCheckpoints.tokenizer();

  private Path modelDir(String template) {
    return TinyCheckpoints.writeChatTemplate(dir.resolve("model"), template);
  }

  private Path file(String... lines) throws IOException {
    return Files.write(dir.resolve("chat.jsonl"), List.of(lines));
  }

  private SftData load(Path file, Path model, int maxSeqLen, TooLong tooLong, boolean assistantOnly) throws IOException {
    DataSection data = new DataSection(file, Format.AUTO, "prompt", null, 0, 4, tooLong, true);
    return SftData.load(data, maxSeqLen, 0, tok, model, assistantOnly);
  }

  private static String message(String role, String content) {
    return "{\"role\": \"" + role + "\", \"content\": \"" + content + "\"}";
  }

  private static String conversation(String... messages) {
    return "{\"messages\": [" + String.join(", ", messages) + "]}";
  }

  private static final String TWO_TURNS = conversation(message("system", "it is"), message("user", "one two"),
      message("assistant", "three"), message("user", "four"), message("assistant", "five six"));

  @Test
  void theLossCoversTheAssistantTurnsAndTheirEndOfTurnOnly() throws IOException {
    SftData d = load(file(TWO_TURNS), modelDir(TEMPLATE), 64, TooLong.SKIP, true);
    SftExample e = d.train().getFirst();
    String rendered = "<bos>system it is <eos> user one two <eos> assistant three <eos> user four <eos> "
        + "assistant five six <eos> ";
    assertArrayEquals(tok.encode(rendered), e.tokens(), "the template's rendering, tokenized without added tokens");
    String[] words = rendered.replace("<bos>", "<bos> ").trim().split(" ");
    assertEquals(words.length, e.length());
    StringBuilder learnt = new StringBuilder();
    for (int t = 0; t < e.length(); t++) if (e.isTarget(t)) learnt.append(words[t]).append(' ');
    assertEquals("three <eos> five six <eos> ", learnt.toString(), "neither the roles nor the user's words");
    assertEquals(5, e.targets());
  }

  @Test
  void withoutAssistantOnlyLossEveryTokenButTheFirstIsLearnt() throws IOException {
    SftExample e = load(file(TWO_TURNS), modelDir(TEMPLATE), 64, TooLong.SKIP, false).train().getFirst();
    assertFalse(e.isTarget(0));
    assertEquals(e.length() - 1, e.targets());
  }

  @Test
  void plainRowsBesideConversationsAreEncodedAsBefore() throws IOException {
    Path f = file("{\"prompt\": \"the food was\", \"completion\": \"very good\"}", TWO_TURNS, "{\"text\": \"one two\"}");
    SftData mixed = load(f, modelDir(TEMPLATE), 64, TooLong.SKIP, true);
    Path plain = Files.write(dir.resolve("plain.jsonl"),
        List.of("{\"prompt\": \"the food was\", \"completion\": \"very good\"}", "{\"text\": \"one two\"}"));
    DataSection data = new DataSection(plain, Format.AUTO, "prompt", null, 0, 16, TooLong.SKIP, true);
    SftData before = SftData.load(data, 64, 0, tok);
    assertEquals(before.train().get(0), mixed.train().get(0));
    assertEquals(before.train().get(1), mixed.train().get(2));
  }

  @Test
  void aLongConversationIsSkippedOrCutToItsStart() throws IOException {
    Path f = file(TWO_TURNS, conversation(message("user", "one"), message("assistant", "two")));
    SftData skipped = load(f, modelDir(TEMPLATE), 12, TooLong.SKIP, true);
    assertEquals(1, skipped.train().size());
    assertEquals(1, skipped.skippedTooLong());

    SftData cut = load(f, modelDir(TEMPLATE), 12, TooLong.TRUNCATE, true);
    assertEquals(2, cut.train().size());
    assertEquals(1, cut.truncated());
    SftExample first = cut.train().getFirst();
    assertEquals(12, first.length());
    assertEquals(2, first.targets(), "three and its end of turn; the second answer is cut off");

    SftData nothingLeft = load(f, modelDir(TEMPLATE), 9, TooLong.TRUNCATE, true);
    assertEquals(1, nothingLeft.train().size(), "a cut that leaves no assistant token skips the conversation");
    assertEquals(1, nothingLeft.skippedTooLong());
  }

  @Test
  void badMessagesNameTheFileTheLineAndTheMessage() throws IOException {
    Path model = modelDir(TEMPLATE);
    String at = dir.resolve("chat.jsonl") + ":2: messages[1]: ";
    assertError(at + "no \"role\"", file(TWO_TURNS, conversation(message("user", "one"), "{\"content\": \"two\"}")),
        model);
    assertError(at + "unknown role \"bot\"", file(TWO_TURNS, conversation(message("user", "one"),
        message("bot", "two"))), model);
    assertError(at + "\"content\" must be a string and is missing", file(TWO_TURNS,
        conversation(message("user", "one"), "{\"role\": \"assistant\"}")), model);
    assertError(dir.resolve("chat.jsonl") + ":1: messages: no assistant message to learn from",
        file(conversation(message("user", "one"))), model);
  }

  @Test
  void aModelWithoutATemplateOrATemplateThatCannotMarkTheAssistantIsAClearError() throws IOException {
    assertError(dir.resolve("chat.jsonl") + ":1: messages: conversational data needs a chat template",
        file(TWO_TURNS), modelDir(null));
    String noEndOfTurn = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
        + "{% if add_generation_prompt %}assistant {% endif %}";
    assertError(dir.resolve("chat.jsonl") + ":1: messages: chat template", file(TWO_TURNS), modelDir(noEndOfTurn));
  }

  @Test
  void invalidUtf8InAConversationNamesTheLine() throws IOException {
    Path f = dir.resolve("chat.jsonl");
    byte[] bad = "{\"messages\": [{\"role\": \"user\", \"content\": \"one \u00ff\"}]}\n".getBytes(
        StandardCharsets.ISO_8859_1);
    Files.write(f, (TWO_TURNS + "\n").getBytes(StandardCharsets.UTF_8));
    Files.write(f, bad, StandardOpenOption.APPEND);
    assertError(f + ":2: not valid UTF-8", f, modelDir(TEMPLATE));
  }

  private void assertError(String expectedStart, Path file, Path model) {
    DataException e = assertThrows(DataException.class, () -> load(file, model, 64, TooLong.SKIP, true));
    assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line");
  }
}
