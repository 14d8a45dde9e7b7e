package org.rlhf4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The demos' own chat template, for the word tokenizer: every piece it writes is a word between
 * single spaces, so the word tokenizer reads the roles and markers as tokens of their own.
 * {@code <bos>}, then per message its role marker ({@code <system>}, {@code <user>}, {@code
 * <assistant>}, {@code <tool>}), its content, an assistant's tool calls Hermes-style ({@code
 * <tool_call> { "name" : "search" , "arguments" : { "query" : "pasta" } } </tool_call>}: JSON
 * whose pieces are words, each argument value printed by {@code tojson}) and {@code <eos>}, the
 * end of every turn; the generation prompt is {@code <assistant>}. So a response ends at EOS (the
 * end-of-turn token is EOS: generation needs no other stop), and a prompt rendered with the
 * generation prompt begins every rendering that continues it. The {@code tools} variable (JSON
 * schemas) is not rendered: a word-level model could not read it; a task names its tools in a
 * system message if its model must see them. Stateless.
 *
 * <pre>
 * &lt;bos&gt; &lt;user&gt; the pasta at this place was &lt;eos&gt; &lt;assistant&gt; delicious . &lt;eos&gt;
 * </pre>
 */
public final class DemoChatTemplate {
  /** The roles the template knows; another is an error raised by the template. */
  public static final List<String> ROLES = List.of("system", "user", "assistant", "tool");

  /** The words the template writes besides the messages' content and the special tokens. */
  public static final List<String> WORDS = List.of("<system>", "<user>", "<assistant>", "<tool>", "<tool_call>",
      "</tool_call>", "{", "}", ":", "\"name\"", "\"arguments\"");

  /** The Jinja source (as tokenizer_config.json's chat_template holds it). */
  public static final String SOURCE = """
      {{- bos_token }}
      {%- for message in messages %}
      {%- if message.role not in ['system', 'user', 'assistant', 'tool'] %}
      {{- raise_exception('the demo chat template has no role ' ~ message.role) }}
      {%- endif %}
      {{- ' <' ~ message.role ~ '>' }}
      {%- if message.content %}{{ ' ' ~ message.content }}{% endif %}
      {%- if message.role == 'assistant' and message.tool_calls %}
      {%- for call in message.tool_calls %}
      {%- if call.function is defined %}{% set f = call.function %}{% else %}{% set f = call %}{% endif %}
      {%- if f.arguments is string %}
      {{- raise_exception('the demo chat template wants tool call arguments as an object, not a string') }}
      {%- endif %}
      {{- ' <tool_call> { "name" : ' ~ (f.name | tojson) ~ ' , "arguments" : {' }}
      {%- for key, value in f.arguments.items() %}
      {{- ' ' ~ (key | tojson) ~ ' : ' ~ (value | tojson) }}
      {%- if not loop.last %}{{ ' ,' }}{% endif %}
      {%- endfor %}
      {{- ' } } </tool_call>' }}
      {%- endfor %}
      {%- endif %}
      {{- ' ' ~ eos_token }}
      {%- endfor %}
      {%- if add_generation_prompt %}{{ ' <assistant>' }}{% endif %}
      """;

  /** The special tokens the template reads, as tokenizer_config.json names them. */
  public static final Map<String, Object> SPECIAL_TOKENS = Map.of("bos_token", WordTokenizer.BOS,
      "eos_token", WordTokenizer.EOS, "pad_token", WordTokenizer.PAD, "unk_token", WordTokenizer.UNK);

  private static final ChatTemplate TEMPLATE = ChatTemplate.of(SOURCE, "the demo's chat template", SPECIAL_TOKENS);

  private DemoChatTemplate() {}

  /** The template with its special tokens, ready to render (immutable, thread-safe). */
  public static ChatTemplate template() {
    return TEMPLATE;
  }

  /**
   * Writes a model directory's tokenizer_config.json (file) with the template and the special
   * tokens, so that its conversational data, {@code rlhf4j render} and every checkpoint made
   * from it (which copy the file) use the template.
   */
  public static void writeConfig(Path file) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = json.createObjectNode();
    SPECIAL_TOKENS.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> config.put(e.getKey(), (String) e.getValue()));
    config.put("chat_template", SOURCE);
    Files.writeString(file, json.writerWithDefaultPrettyPrinter()
        .writeValueAsString(config));
  }

  /** A message {role, content}, in that order (as JSON writes it). */
  public static Map<String, Object> message(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  /** The text of a user's opening rendered with the generation prompt: what the policy continues. */
  public static String prompt(String opening) {
    return template().render(List.of(message("user", opening)), true, null, Map.of());
  }
}
