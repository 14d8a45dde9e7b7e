package org.rlhf4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhf4j.chat.References;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/** rlhf4j render on the real Qwen3 and Llama-3.1 tokenizers and templates. */
class RenderCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void printsTextIdsAndTheAssistantTokens() throws Exception {
    Path qwen = References.model("qwen3");
    Path conversations = dir.resolve("chats.jsonl");
    Files.writeString(conversations, """
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\\nadd\\n</think>\\n\\n4"}]}

        {"messages": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]}, {"role": "tool", "content": "18 C"}]}
        """);
    Path tools = dir.resolve("tools.json");
    Files.writeString(tools, """
        [{"type": "function", "function": {"name": "weather", "description": "Weather now.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        """);
    Cli run = Cli.run("render", "--model", qwen.toString(), "--messages", conversations.toString(),
        "--tools", tools.toString(), "--add-generation-prompt", "--json");
    assertEquals(Main.OK, run.code(), run.toString());
    List<JsonNode> rows = new ArrayList<>();
    for (String line : run.out().strip().split("\n")) rows.add(JSON.readTree(line));
    assertEquals(2, rows.size(), run.out());

    Tokenizer tokenizer = Tokenizers.load(qwen);
    List<String> texts = rows.stream().map(r -> r.get("text").textValue()).toList();
    List<int[]> expectedIds = References.transformersJs(qwen, texts);
    List<List<String>> expectedSpans = List.of(
        List.of("Hello!<|im_end|>", "<think>\nadd\n</think>\n\n4<|im_end|>"),
        List.of("<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>"));
    for (int r = 0; r < rows.size(); r++) {
      int[] ids = JSON.convertValue(rows.get(r).get("ids"), int[].class);
      assertArrayEquals(expectedIds.get(r), ids, texts.get(r));
      List<String> spans = new ArrayList<>();
      for (JsonNode s : rows.get(r).get("assistant_spans")) {
        int[] span = java.util.Arrays.copyOfRange(ids, s.get(0).intValue(), s.get(1).intValue());
        spans.add(tokenizer.decode(span, false));
      }
      assertEquals(expectedSpans.get(r), spans, texts.get(r));
    }
    assertTrue(texts.get(0).endsWith("4<|im_end|>\n<|im_start|>assistant\n"), texts.get(0));
    assertTrue(texts.get(1).contains("\"name\": \"weather\""), texts.get(1));

    // Without thinking, Qwen3's generation prompt holds an empty think block that its rendering
    // of earlier turns does not: a prompt renders, earlier assistant turns cannot be marked.
    Path prompt = dir.resolve("prompt.jsonl");
    Files.writeString(prompt, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n");
    run = Cli.run("render", "--model", qwen.toString(), "--messages", prompt.toString(),
        "--add-generation-prompt", "--set", "enable_thinking=false", "--json");
    assertEquals(Main.OK, run.code(), run.toString());
    assertTrue(JSON.readTree(run.out()).get("text").textValue().endsWith("assistant\n<think>\n\n</think>\n\n"), run.out());
    run = Cli.run("render", "--model", qwen.toString(), "--messages", conversations.toString(),
        "--set", "enable_thinking=false");
    assertEquals(Main.USAGE, run.code(), run.toString());
    assertTrue(run.err().contains("chats.jsonl:1: chat template ") && run.err().contains(
        "cannot mark assistant message 2: the conversation before it, rendered with the generation prompt,"), run.err());
  }

  @Test
  void theHumanFormatShowsEachAssistantSpan() throws Exception {
    Path llama = References.model("llama3_1");
    Path conversations = dir.resolve("chats.jsonl");
    Files.writeString(conversations, """
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": " Hello! "}]}
        """);
    Cli run = Cli.run("render", "--model", llama.toString(), "--messages", conversations.toString());
    assertEquals(Main.OK, run.code(), run.toString());
    assertTrue(run.out().startsWith("=== conversation 1: "), run.out());
    assertTrue(run.out().contains("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"), run.out());
    assertTrue(run.out().contains("message 2: [") && run.out().contains(" \"Hello!<|eot_id|>\""), run.out());
  }

  @Test
  void aModelWithoutATemplateNeedsChatTemplate() throws Exception {
    Path model = Files.createDirectories(dir.resolve("model"));
    Files.copy(References.model("qwen3").resolve("tokenizer.json"), model.resolve("tokenizer.json"));
    Path conversations = dir.resolve("chats.jsonl");
    Files.writeString(conversations, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]}\n");
    Cli run = Cli.run("render", "--model", model.toString(), "--messages", conversations.toString());
    assertEquals(Main.USAGE, run.code(), run.toString());
    assertTrue(run.err().contains("has no chat template") && run.err().contains("--chat-template FILE"), run.err());
    assertEquals("", run.out());

    Path template = dir.resolve("chat.jinja");
    Files.writeString(template, "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}"
        + "{% if add_generation_prompt %}<assistant>{% endif %}");
    Files.writeString(model.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    run = Cli.run("render", "--model", model.toString(), "--messages", conversations.toString(),
        "--chat-template", template.toString(), "--json");
    assertEquals(Main.OK, run.code(), run.toString());
    assertTrue(run.out().contains("\"text\":\"<user>Hi</s><assistant>Yo</s>\""), run.out());
  }

  @Test
  void badConversationsAreOneLineNamingTheFileLineAndMessage() throws Exception {
    Path qwen = References.model("qwen3");
    Path file = dir.resolve("bad.jsonl");
    String[][] cases = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"robot\", \"content\": \"b\"}]}", ":1: messages[1]: unknown role \"robot\""},
        {"{\"messages\": [{\"content\": \"a\"}]}", ":1: messages[0]: no \"role\""},
        {"{\"messages\": [{\"role\": \"user\"}]}", ":1: messages[0]: \"content\" must be a string and is missing"},
        {"{\"prompt\": \"x\"}", ":1: messages: expected a list of messages"},
        {"{\"messages\": [{\"role\": \"assistant\", \"content\": \"first\"}]}", "cannot mark assistant message 0"}};
    for (String[] c : cases) {
      Files.writeString(file, c[0] + "\n");
      Cli run = Cli.run("render", "--model", qwen.toString(), "--messages", file.toString());
      assertEquals(Main.USAGE, run.code(), run.toString());
      assertTrue(run.err().contains(c[1]), c[1] + "\n" + run.err());
      assertEquals(1, run.err().strip().split("\n").length, run.err());
      assertEquals("", run.out());
    }
    Files.write(file, new byte[] {'{', '"', (byte) 0xC3, '"', '}', '\n'});
    Cli run = Cli.run("render", "--model", qwen.toString(), "--messages", file.toString());
    assertEquals(Main.USAGE, run.code(), run.toString());
    assertTrue(run.err().contains("bad.jsonl:1: invalid UTF-8"), run.err());
  }
}
