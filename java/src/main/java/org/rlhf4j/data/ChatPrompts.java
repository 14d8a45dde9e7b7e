package org.rlhf4j.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.Conversation;

/**
 * Conversational prompts in TRL's format ({@code {"prompt": [messages]}}): rendered with a
 * model's chat template and the generation prompt, so that the response is the assistant's
 * turn; and conversational preference pairs, whose sides continue that prompt. The template is
 * loaded at the first conversational prompt, so plain-string data needs none. Not thread-safe.
 */
public final class ChatPrompts {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path modelDir;
  private ChatTemplate template;

  /** @param modelDir the model directory whose chat template renders */
  public ChatPrompts(Path modelDir) {
    this.modelDir = modelDir;
  }

  /**
   * The template that has rendered this object's conversations; empty while none has been (all
   * prompts so far were strings).
   */
  public Optional<ChatTemplate> renderedWith() {
    return Optional.ofNullable(template);
  }

  /** Whether row's field holds a conversation (a list) rather than a string. */
  public static boolean isConversation(Row row, String field) {
    return row.fields().get(field) instanceof List<?>;
  }

  /**
   * Row's conversation in field, rendered with the generation prompt.
   *
   * @throws DataException naming the row and the field for a malformed message, a model without a
   *     template, or a template that fails
   */
  public String render(Row row, String field) throws IOException {
    String where = row.where() + ": " + field;
    Conversation conversation = parse(row, field);
    try {
      return template(where).render(conversation, true, null, Map.of());
    } catch (ChatTemplateException e) {
      throw new DataException(where + ": " + e.getMessage());
    }
  }

  /**
   * A conversational preference pair as texts: the prompt rendered with the generation prompt,
   * and each side as the continuation of it (prompt + side rendered, minus the prompt's text).
   */
  public record Pair(String prompt, String chosen, String rejected) {}

  /**
   * Row's pair in TRL's conversational preference form: {@code {"prompt": [messages], "chosen":
   * [messages], "rejected": [messages]}}.
   *
   * @throws DataException naming the row and the field for a malformed conversation, or a side
   *     whose rendering does not continue the prompt's
   */
  public Pair pair(Row row, String promptField, String chosenField, String rejectedField) throws IOException {
    String prompt = render(row, promptField);
    return new Pair(prompt, continuation(row, promptField, chosenField, prompt),
        continuation(row, promptField, rejectedField, prompt));
  }

  private String continuation(Row row, String promptField, String field, String prompt) throws IOException {
    String where = row.where() + ": " + field;
    if (!isConversation(row, field)) {
      throw new DataException(where + ": expected a list of messages, as the prompt is");
    }
    List<Map<String, Object>> messages = new ArrayList<>(parse(row, promptField).messages());
    messages.addAll(parse(row, field).messages());
    String full;
    try {
      full = template(where).render(messages, false, null, Map.of());
    } catch (ChatTemplateException e) {
      throw new DataException(where + ": " + e.getMessage());
    }
    if (!full.startsWith(prompt) || full.length() == prompt.length()) {
      throw new DataException(where + ": the prompt and this side, rendered, do not continue the prompt rendered"
          + " with the generation prompt (the template cannot mark the response)");
    }
    return full.substring(prompt.length());
  }

  private static Conversation parse(Row row, String field) {
    try {
      return Conversation.parse(JSON.valueToTree(row.fields().get(field)), row.where() + ": " + field);
    } catch (IllegalArgumentException e) {
      throw new DataException(e.getMessage());
    }
  }

  private ChatTemplate template(String where) throws IOException {
    if (template == null) {
      template = ChatTemplate.load(modelDir).orElseThrow(() -> new DataException(where
          + ": conversational data needs a chat template and " + modelDir + " has none (no chat_template.jinja,"
          + " no chat_template in tokenizer_config.json)"));
    }
    return template;
  }
}
