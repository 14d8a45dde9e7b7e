package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rlhf4j.config.AgentSection.ToolFormat;

/** Llama 3.1 JSON tool calls: the message is the call(s); plain text is no call; no exception ever. */
class Llama3JsonParserTest {
  private final ToolCallParser parser = ToolCallParser.of(ToolFormat.LLAMA3_JSON);

  @Test
  void readsOneOrSeveralCallsWithOrWithoutThePythonTag() {
    var one = parser.parse("<|python_tag|>{\"name\": \"menu\", \"parameters\": {\"dish\": \"soup\"}}");
    assertEquals(List.of(), one.errors());
    assertEquals("soup", one.calls().get(0).arguments().get("dish").textValue());
    var two = parser.parse(" {\"name\": \"a\", \"parameters\": \"{\\\"x\\\": 1}\"}; {\"name\": \"b\"} ");
    assertEquals(List.of("a", "b"), two.calls().stream().map(ToolCall::name).toList());
    assertEquals(List.of("call_0", "call_1"), two.calls().stream().map(ToolCall::id).toList());
    assertEquals(1, two.calls().get(0).arguments().get("x").intValue());
    assertEquals("", two.content());
  }

  @Test
  void plainTextIsNoCall() {
    var p = parser.parse("The soup costs 7 dollars.");
    assertTrue(p.none());
    assertEquals("The soup costs 7 dollars.", p.content());
  }

  @Test
  void malformedCallsAreErrors() {
    var p = parser.parse("{\"name\": \"a\", \"parameters\": 3}; {\"name\": \"b\"} and then some words");
    assertEquals(List.of("b"), p.calls().stream().map(ToolCall::name).toList());
    assertEquals(List.of("tool call 0: \"parameters\" must be a JSON object",
        "tool call 2: text after the tool calls is not a JSON object"), p.errors());
    var broken = parser.parse("{\"name\": \"a\", \"parameters\": {");
    assertEquals(1, broken.errors().size());
    assertTrue(broken.errors().get(0).startsWith("tool call 0: is not JSON"), broken.errors().get(0));
  }

  @Test
  void fuzzedTextNeverThrows() {
    String[] seeds = {
        "{\"name\": \"menu\", \"parameters\": {\"dish\": \"soup\", \"n\": [1, 2.5, null]}}",
        "<|python_tag|>{\"name\": \"calc\", \"parameters\": \"{\\\"expr\\\": \\\"1+1\\\"}\"}",
        "{\"name\": \"a\"}; {\"name\": \"b\", \"parameters\": {}}"};
    assertTrue(ParserFuzz.run(parser, seeds, 3, 10_000) > 0, "some mutations leave valid calls");
    assertTrue(parser.parse(null).none());
  }
}
