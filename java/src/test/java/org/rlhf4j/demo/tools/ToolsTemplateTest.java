package org.rlhf4j.demo.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rlhf4j.agent.ToolCallParser;
import org.rlhf4j.chat.AssistantSpans;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.Conversation;
import org.rlhf4j.config.AgentSection.ToolFormat;
import org.rlhf4j.tokenizer.WordTokenizer;

/** The tools demo's template, tokenizer and tool fit together: what the model writes is a call the tool answers. */
class ToolsTemplateTest {
  private final WordTokenizer tokenizer = MenuTask.tokenizer();
  private final ChatTemplate template = ToolsTemplate.template();

  @Test
  void aRenderedToolCallDecodesToJsonTheHermesParserReadsAndTheToolAnswers() throws Exception {
    MenuTask.Question q = MenuTask.question("luigi", "pizza");
    Conversation trace = new Conversation(MenuTask.lookup(q));
    AssistantSpans.Rendered r = AssistantSpans.render(template, trace, false, null, Map.of(), tokenizer);
    assertFalse(Arrays.stream(r.ids()).anyMatch(id -> id == tokenizer.unkId()), "every word is in the vocabulary: " + r.text());
    assertEquals(2, r.spans().size());
    AssistantSpans.Span call = r.spans().getFirst();
    String written = tokenizer.decode(Arrays.copyOfRange(r.ids(), call.tokenStart(), call.tokenEnd()), true);
    assertEquals("<tool_call> { \"name\" : \"menu\", \"arguments\" : { \"restaurant\" : \"luigi\", \"dish\" : \"pizza\" } }"
        + " </tool_call>", written);
    ToolCallParser.Parsed parsed = ToolCallParser.of(ToolFormat.HERMES).parse(written);
    assertEquals(List.of(), parsed.errors());
    assertEquals(1, parsed.calls().size());
    assertEquals(MenuTool.NAME, parsed.calls().getFirst().name());
    assertEquals(q.answer(), new MenuTool().call(parsed.calls().getFirst().arguments()));
    AssistantSpans.Span answer = r.spans().get(1);
    assertEquals(q.answer(), tokenizer.decode(Arrays.copyOfRange(r.ids(), answer.tokenStart(), answer.tokenEnd()), true));
  }

  @Test
  void theConversationTokenizesAsTheWordsTheTemplateWrote() {
    String text = template.render(MenuTask.lookup(MenuTask.question("sakura", "sushi")), false, null, Map.of());
    assertEquals("<bos> <user> what does sushi cost at sakura? <eos> <assistant> <tool_call> { \"name\" : \"menu\" ,"
        + " \"arguments\" : { \"restaurant\" : \"sakura\" , \"dish\" : \"sushi\" } } </tool_call> <eos> <tool> "
        + Menu.price("sakura", "sushi") + " <eos> <assistant> " + Menu.price("sakura", "sushi") + " <eos>", text);
    String prompt = template.render(MenuTask.guess(MenuTask.question("sakura", "sushi")).subList(0, 1), true, null,
        Map.of());
    assertTrue(text.startsWith(prompt), "the generation prompt starts the conversation: " + prompt);
    assertArrayEquals(tokenizer.encode(prompt), Arrays.copyOf(tokenizer.encode(text), tokenizer.encode(prompt).length));
  }

  @Test
  void theToolTellsTheModelWhatIsWrongWithItsArguments() {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    Exception e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new MenuTool().call(json.readTree("{\"restaurant\": \"luigi\", \"dish\": \"lasagna\"}")));
    assertEquals("no dish named lasagna", e.getMessage());
    e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new MenuTool().call(json.readTree("{\"dish\": \"pizza\"}")));
    assertEquals("menu needs \"restaurant\", a string", e.getMessage());
  }
}
