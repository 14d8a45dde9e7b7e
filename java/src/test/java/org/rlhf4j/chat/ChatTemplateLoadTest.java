package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a model's chat template and special tokens come from, as transformers reads them. */
class ChatTemplateLoadTest {
  private static final List<Map<String, Object>> HI = List.of(Map.of("role", "user", "content", "hi"));

  @TempDir Path dir;

  @Test
  void theStringFormTheNamedListAndTheJinjaFile() throws Exception {
    Files.writeString(dir.resolve("tokenizer_config.json"), """
        {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
         "chat_template": [{"name": "tool_use", "template": "tools"},
                           {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}[{{ pad_token }}]"}]}
        """);
    ChatTemplate named = ChatTemplate.require(dir);
    assertEquals("<s>hi</s>[]", named.render(HI, false, null, Map.of()));
    assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>"), named.specialTokens());

    Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages[0].role }}:{{ eos_token }}");
    assertEquals("user:</s>", ChatTemplate.require(dir).render(HI, false, null, Map.of()));
    assertTrue(ChatTemplate.require(dir).origin().endsWith("chat_template.jinja"));
  }

  @Test
  void noTemplateIsAClearErrorAndABadOneNamesTheFile() throws Exception {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    assertTrue(ChatTemplate.load(dir).isEmpty());
    ChatTemplateException none = assertThrows(ChatTemplateException.class, () -> ChatTemplate.require(dir));
    assertTrue(none.getMessage().contains("has no chat template") && none.getMessage().contains("--chat-template"),
        none.getMessage());

    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"rag\", \"template\": \"x\"}]}");
    var noDefault = assertThrows(java.io.IOException.class, () -> ChatTemplate.load(dir));
    assertTrue(noDefault.getMessage().contains("without a \"default\""), noDefault.getMessage());

    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}{{ m.role }\"}");
    var broken = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.require(dir).render(HI, false, null, Map.of()));
    assertTrue(broken.getMessage().startsWith("chat template " + dir.resolve("tokenizer_config.json")), broken.getMessage());
  }
}
