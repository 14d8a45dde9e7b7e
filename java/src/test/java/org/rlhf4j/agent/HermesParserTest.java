package org.rlhf4j.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rlhf4j.config.AgentSection.ToolFormat;

/** Qwen3/Hermes tool calls: what is read, what becomes an error, and no exception whatever the text. */
class HermesParserTest {
  private final ToolCallParser parser = ToolCallParser.of(ToolFormat.HERMES);

  @Test
  void readsSeveralCallsWithObjectOrStringArgumentsAndKeepsTheText() {
    var p = parser.parse("""
        Let me look.
        <tool_call>
        {"name": "menu", "arguments": {"restaurant": "Luigi's", "dish": "soup"}}
        </tool_call>
        <tool_call>{"name": "calc", "arguments": "{\\"expr\\": \\"2+3\\"}"}</tool_call>
        <tool_call>{"name": "now"}</tool_call>""");
    assertEquals("Let me look.", p.content());
    assertEquals(List.of(), p.errors());
    assertEquals(List.of("menu", "calc", "now"), p.calls().stream().map(ToolCall::name).toList());
    assertEquals(List.of("call_0", "call_1", "call_2"), p.calls().stream().map(ToolCall::id).toList());
    assertEquals("Luigi's", p.calls().get(0).arguments().get("restaurant").textValue());
    assertEquals("2+3", p.calls().get(1).arguments().get("expr").textValue());
    assertTrue(p.calls().get(2).arguments().isEmpty());
    assertEquals("{\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":[{\"id\":\"call_0\",\"type\":"
        + "\"function\",\"function\":{\"name\":\"menu\",\"arguments\":{\"restaurant\":\"Luigi's\",\"dish\":\"soup\"}}},"
        + "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"calc\",\"arguments\":{\"expr\":\"2+3\"}}},"
        + "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":{}}}]}",
        p.message().toNode().toString());
  }

  @Test
  void plainTextHasNoCalls() {
    var p = parser.parse("  The answer is 12.  ");
    assertTrue(p.none());
    assertEquals("The answer is 12.", p.content());
  }

  @Test
  void eachMalformedCallIsAnErrorAndTheGoodOnesStillCount() {
    var p = parser.parse("<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"
        + "<tool_call>{\"name\": \"b\", \"arguments\": {</tool_call>"
        + "<tool_call>[1, 2]</tool_call>"
        + "<tool_call>{\"arguments\": {}}</tool_call>"
        + "<tool_call>{\"name\": \"c\", \"arguments\": \"not json\"}</tool_call>"
        + "<tool_call>{\"name\": \"d\", \"arguments\": 5}</tool_call>"
        + "<tool_call>{\"name\": \"e\"} trailing</tool_call>"
        + "<tool_call>{\"name\": \"f\"");
    assertEquals(List.of("a"), p.calls().stream().map(ToolCall::name).toList());
    assertEquals(7, p.errors().size(), p.errors().toString());
    assertTrue(p.errors().get(0).startsWith("tool call 1: is not JSON"), p.errors().get(0));
    assertEquals("tool call 2: must be a JSON object {\"name\": ..., \"arguments\": {...}}", p.errors().get(1));
    assertEquals("tool call 3: needs \"name\", a non-empty string", p.errors().get(2));
    assertTrue(p.errors().get(3).startsWith("tool call 4: has \"arguments\" that are not JSON"), p.errors().get(3));
    assertEquals("tool call 5: \"arguments\" must be a JSON object", p.errors().get(4));
    assertTrue(p.errors().get(5).startsWith("tool call 6: is not JSON"), p.errors().get(5));
    assertEquals("tool call 7 has no closing </tool_call>", p.errors().get(6));
  }

  /** Random mutations of valid calls, seeded and bounded: the parser answers every one without throwing. */
  @Test
  void fuzzedTextNeverThrows() {
    String[] seeds = {
        "<tool_call>{\"name\": \"menu\", \"arguments\": {\"dish\": \"soup\", \"n\": [1, 2.5, null]}}</tool_call>",
        "ok <tool_call>{\"name\": \"calc\", \"arguments\": \"{\\\"expr\\\": \\\"1+1\\\"}\"}</tool_call> done",
        "<tool_call>{\"name\": \"a\"}</tool_call><tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>"};
    assertTrue(ParserFuzz.run(parser, seeds, 21, 10_000) > 0, "some mutations leave valid calls");
    assertTrue(parser.parse(null).none());
  }
}
