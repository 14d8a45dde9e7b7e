package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * The real Qwen3 and Llama-3.1 chat templates render every conversation of
 * resources chat/conversations.json (system, multi-turn, thinking, tools, tool calls and
 * responses, unicode) to exactly Python jinja2's text under transformers' setup, and the project's
 * tokenizer turns that text into exactly transformers.js's ids.
 */
class ChatTemplateReferenceTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest
  @ValueSource(strings = {"qwen3", "llama3_1"})
  void rendersAndTokenizesAsTransformers(String model) throws Exception {
    Path dir = References.model(model);
    ChatTemplate template = ChatTemplate.require(dir);
    String source = JSON.readTree(dir.resolve("tokenizer_config.json").toFile())
        .get("chat_template").textValue();
    List<Map<String, Object>> cases = JSON.readValue(
        ChatTemplateReferenceTest.class.getResourceAsStream("/chat/conversations.json"),
        new TypeReference<>() {});

    List<Map<String, Object>> variables = new ArrayList<>();
    List<String> rendered = new ArrayList<>();
    for (Map<String, Object> c : cases) {
      @SuppressWarnings("unchecked")
      List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
      @SuppressWarnings("unchecked")
      List<Object> tools = (List<Object>) c.get("tools");
      @SuppressWarnings("unchecked")
      Map<String, Object> kwargs = (Map<String, Object>) c.getOrDefault("kwargs", Map.of());
      boolean generation = (Boolean) c.get("add_generation_prompt");
      rendered.add(template.render(messages, generation, tools, kwargs));
      Map<String, Object> vars = new LinkedHashMap<>(template.specialTokens());
      vars.putAll(kwargs);
      vars.put("messages", messages);
      vars.put("tools", tools);
      vars.put("documents", null);
      vars.put("add_generation_prompt", generation);
      variables.add(vars);
    }
    List<Object> expected = References.jinja2(source, variables);
    for (int i = 0; i < cases.size(); i++) {
      assertEquals(expected.get(i), rendered.get(i), model + ": " + cases.get(i).get("name"));
    }

    Tokenizer tokenizer = Tokenizers.load(dir);
    List<int[]> ids = References.transformersJs(dir, rendered);
    for (int i = 0; i < rendered.size(); i++) {
      assertFalse(rendered.get(i).isEmpty());
      assertArrayEquals(ids.get(i), tokenizer.encode(rendered.get(i)),
          model + ": " + cases.get(i).get("name"));
    }
  }
}
