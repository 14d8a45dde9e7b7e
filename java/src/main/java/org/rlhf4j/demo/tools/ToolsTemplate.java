package org.rlhf4j.demo.tools;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.tokenizer.WordTokenizer;

/**
 * The tools demo's chat template, for a word-level tokenizer: every piece is a vocabulary word
 * between spaces. Roles are words ({@code <user>}, {@code <assistant>}, {@code <tool>}), each turn
 * ends with {@code <eos>}, and an assistant's tool call is Hermes' {@code <tool_call> {"name":
 * ..., "arguments": {...}} </tool_call>} with each JSON piece a word, so the tokenizer's normal
 * form of it is JSON a Hermes parser reads. The tools list is not rendered: the tiny model knows
 * its one tool from training, and a list would triple its context.
 */
public final class ToolsTemplate {
  public static final String USER = "<user>";
  public static final String ASSISTANT = "<assistant>";
  public static final String TOOL = "<tool>";
  public static final String FILE = "chat_template.jinja";

  /** Jinja as transformers renders it (trim_blocks, lstrip_blocks); {@code -} strips the source's newlines. */
  public static final String SOURCE = """
      {{- bos_token }}
      {%- for message in messages %}
        {%- if message.role == 'user' %} <user> {{ message.content }} {{ eos_token }}
        {%- elif message.role == 'tool' %} <tool> {{ message.content }} {{ eos_token }}
        {%- elif message.role == 'assistant' %} <assistant>
          {%- if message.content %} {{ message.content }}{% endif %}
          {%- if message.tool_calls is defined and message.tool_calls %}
            {%- for call in message.tool_calls %} <tool_call> { "name" : "{{ call.function.name }}" , "arguments" : {
              {%- for key, value in call.function.arguments.items() %} "{{ key }}" : "{{ value }}"
                {%- if not loop.last %} ,{% endif %}
              {%- endfor %} } } </tool_call>
            {%- endfor %}
          {%- endif %} {{ eos_token }}
        {%- else %}{{ raise_exception('the tools demo template has no role ' + message.role) }}
        {%- endif %}
      {%- endfor %}
      {%- if add_generation_prompt %} <assistant>{% endif %}""";

  private ToolsTemplate() {}

  /** The template with the word tokenizer's special tokens. */
  public static ChatTemplate template() {
    return ChatTemplate.of(SOURCE, "the tools demo's chat template", specialTokens());
  }

  /**
   * Adds chat_template.jinja and tokenizer_config.json (bos, eos, pad tokens) to a checkpoint, so
   * that SFT and RL from it render conversations with this template (and copy both on).
   */
  public static CheckpointWriter addTo(CheckpointWriter writer) {
    try {
      return writer.file(FILE, SOURCE.getBytes(StandardCharsets.UTF_8)).file("tokenizer_config.json",
          new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(specialTokens()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, Object> specialTokens() {
    return Map.of("bos_token", WordTokenizer.BOS, "eos_token", WordTokenizer.EOS, "pad_token", WordTokenizer.PAD);
  }
}
