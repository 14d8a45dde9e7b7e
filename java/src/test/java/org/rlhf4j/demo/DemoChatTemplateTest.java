package org.rlhf4j.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.chat.AssistantSpans;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.Conversation;
import org.rlhf4j.chat.EndOfTurn;
import org.rlhf4j.chat.References;
import org.rlhf4j.demo.task.ReviewTask;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The demo's chat template renders system, user, assistant and tool turns and an assistant's
 * tool calls as Python's jinja2 does, into words the demo's tokenizer reads without an unknown
 * one; its end of turn is EOS and it marks the assistant's tokens for SFT.
 */
class DemoChatTemplateTest {
  private static final WordTokenizer TOK = DemoVocabulary.tokenizer(new ReviewTask(1));

  @TempDir Path tmp;

  private static Map<String, Object> call(String name, Map<String, Object> arguments) {
    return Map.of("type", "function", "function", Map.of("name", name, "arguments", arguments));
  }

  @Test
  void rendersEveryRoleAndToolCallsAsJinja2InVocabularyWords() throws Exception {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("dish", "pasta");
    args.put("stars", 4);
    List<Map<String, Object>> tools = List.of(
        DemoChatTemplate.message("system", "the staff was friendly"),
        DemoChatTemplate.message("user", "the pasta at this place was"),
        Map.of("role", "assistant", "content", "", "tool_calls", List.of(call("rate", args))),
        DemoChatTemplate.message("tool", "great"),
        DemoChatTemplate.message("assistant", "delicious ."));
    ChatTemplate template = DemoChatTemplate.template();
    String rendered = template.render(tools, false, null, Map.of());
    assertEquals("<bos> <system> the staff was friendly <eos> <user> the pasta at this place was <eos> <assistant>"
        + " <tool_call> { \"name\" : \"rate\" , \"arguments\" : { \"dish\" : \"pasta\" , \"stars\" : 4 } } </tool_call>"
        + " <eos> <tool> great <eos> <assistant> delicious . <eos>", rendered);

    List<List<Map<String, Object>>> conversations = List.of(tools, tools.subList(0, 2), tools.subList(1, 3));
    List<Map<String, Object>> cases = new ArrayList<>();
    List<String> ours = new ArrayList<>();
    for (var messages : conversations) {
      for (boolean generation : new boolean[] {false, true}) {
        Map<String, Object> vars = new LinkedHashMap<>(DemoChatTemplate.SPECIAL_TOKENS);
        vars.put("messages", messages);
        vars.put("tools", null);
        vars.put("documents", null);
        vars.put("add_generation_prompt", generation);
        cases.add(vars);
        ours.add(template.render(messages, generation, null, Map.of()));
      }
    }
    assertEquals(References.jinja2(DemoChatTemplate.SOURCE, cases), ours);

    // Every word the template writes is a token; the call's own name, keys and values are the task's to supply.
    String[] words = rendered.split(" ");
    int[] ids = TOK.encode(rendered);
    assertEquals(words.length, ids.length);
    List<String> unknown = new ArrayList<>();
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] == TOK.unkId()) unknown.add(words[i]);
      else assertEquals(words[i], TOK.vocabulary().get(ids[i]));
    }
    assertEquals(List.of("\"rate\"", "\"dish\"", "\"pasta\"", "\"stars\"", "4"), unknown);
  }

  @Test
  void endsTurnsWithEosAndMarksTheAssistantsTokens() throws Exception {
    ChatTemplate template = DemoChatTemplate.template();
    assertEquals(WordTokenizer.EOS, EndOfTurn.text(template));
    assertEquals(-1, EndOfTurn.stopId(template, TOK), "EOS ends the turn: no other stop");

    String prompt = DemoChatTemplate.prompt("the pasta at this place was");
    assertEquals("<bos> <user> the pasta at this place was <eos> <assistant>", prompt);
    Conversation chat = new Conversation(List.of(DemoChatTemplate.message("user", "the pasta at this place was"),
        DemoChatTemplate.message("assistant", "delicious and the staff was friendly .")));
    AssistantSpans.Rendered r = AssistantSpans.render(template, chat, false, null, Map.of(), TOK);
    assertEquals(1, r.spans().size());
    AssistantSpans.Span span = r.spans().getFirst();
    assertArrayEquals(TOK.encode("delicious and the staff was friendly . <eos>"),
        Arrays.copyOfRange(r.ids(), span.tokenStart(), span.tokenEnd()));
    assertTrue(r.text().startsWith(prompt));

    // The template written into a model directory is the one a checkpoint loads.
    Path config = tmp.resolve("tokenizer_config.json");
    DemoChatTemplate.writeConfig(config);
    assertEquals(template.render(chat, true, null, Map.of()),
        ChatTemplate.require(tmp).render(chat, true, null, Map.of()));

    ChatTemplateException e = assertThrows(ChatTemplateException.class,
        () -> template.render(List.of(DemoChatTemplate.message("developer", "hi")), false, null, Map.of()));
    assertTrue(e.getMessage().contains("the demo chat template has no role developer"), e.getMessage());
  }
}
