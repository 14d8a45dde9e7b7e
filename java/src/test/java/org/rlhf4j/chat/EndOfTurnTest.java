package org.rlhf4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * The end-of-turn token found in the real Qwen3 and Llama-3.1 templates, with their instruct
 * tokenizers (EOS is that token: no extra stop) and their base ones (EOS is another token: the
 * end of turn becomes the stop); templates without one fail naming themselves.
 */
class EndOfTurnTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @ParameterizedTest
  @CsvSource({"qwen3, <|im_end|>, 151645, <|endoftext|>, 151643", "llama3_1, <|eot_id|>, 128009, <|end_of_text|>, 128001"})
  void theRealTemplatesEndTheirTurnsWithOneToken(String model, String endOfTurn, int id, String baseEos, int baseEosId)
      throws Exception {
    Path instruct = References.model(model);
    ChatTemplate template = ChatTemplate.require(instruct);
    Tokenizer tokenizer = Tokenizers.load(instruct);
    assertEquals(endOfTurn, EndOfTurn.text(template));
    assertEquals(id, EndOfTurn.id(template, tokenizer));
    assertEquals(id, tokenizer.eosId(), "the instruct tokenizer's EOS is the end of turn");
    assertEquals(-1, EndOfTurn.stopId(template, tokenizer), "no stop beside EOS");

    // The base model's files: the same template and vocabulary, another EOS.
    Path base = Files.createDirectories(tmp.resolve(model + "-base"));
    Files.copy(instruct.resolve("tokenizer.json"), base.resolve("tokenizer.json"));
    ObjectNode config = (ObjectNode) JSON.readTree(instruct.resolve("tokenizer_config.json").toFile());
    config.put("eos_token", baseEos);
    JSON.writeValue(base.resolve("tokenizer_config.json").toFile(), config);
    Tokenizer baseTokenizer = Tokenizers.load(base);
    assertEquals(baseEosId, baseTokenizer.eosId());
    assertEquals(id, EndOfTurn.stopId(ChatTemplate.require(base), baseTokenizer));
    // SFT's assistant span ends with the end of turn, not with the base model's EOS, which no turn holds.
    Conversation chat = new Conversation(List.of(Map.of("role", "user", "content", "Hi"),
        Map.of("role", "assistant", "content", "Hello there")));
    AssistantSpans.Rendered r = AssistantSpans.render(ChatTemplate.require(base), chat, false, null, Map.of(),
        baseTokenizer);
    assertEquals(id, r.ids()[r.spans().getFirst().tokenEnd() - 1]);
  }

  @Test
  void aTemplateWithoutAnEndOfTurnTokenIsAnErrorNamingIt() throws Exception {
    Tokenizer qwen = Tokenizers.load(References.model("qwen3"));
    ChatTemplate nothingAfter = ChatTemplate.of("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
        "plain.jinja", Map.of());
    ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> EndOfTurn.id(nothingAfter, qwen));
    assertEquals("chat template plain.jinja: cannot find its end-of-turn token: it writes nothing after the"
        + " assistant's content", e.getMessage());

    ChatTemplate severalTokens = ChatTemplate.of("{% for m in messages %}<turn>{{ m.content }}</turn>\n{% endfor %}",
        "tags.jinja", Map.of());
    assertEquals("</turn>", EndOfTurn.text(severalTokens));
    e = assertThrows(ChatTemplateException.class, () -> EndOfTurn.id(severalTokens, qwen));
    assertTrue(e.getMessage().startsWith("chat template tags.jinja: cannot find its end-of-turn token: what it writes"
        + " after the assistant's content, \"</turn>\", is "), e.getMessage());

    ChatTemplate dropsContent = ChatTemplate.of("{% for m in messages %}{{ m.role }}<|im_end|>{% endfor %}",
        "roles.jinja", Map.of());
    e = assertThrows(ChatTemplateException.class, () -> EndOfTurn.id(dropsContent, qwen));
    assertTrue(e.getMessage().contains("roles.jinja") && e.getMessage().contains("does not appear"), e.getMessage());
  }
}
