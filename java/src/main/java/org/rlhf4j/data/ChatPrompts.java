package org.rlhf4j.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.Conversation;

/**
 * Conversational prompts in TRL's format ({@code {"prompt": [messages]}}): rendered with a
 * model's chat template and the generation prompt, so that the response is the assistant's
 * turn. The template is loaded at the first conversational prompt, so plain-string data needs
 * none. Not thread-safe.
 */
public final class ChatPrompts {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path modelDir;
  private ChatTemplate template;

  /** @param modelDir the model directory whose chat template renders */
  public ChatPrompts(Path modelDir) {
    this.modelDir = modelDir;
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
    Conversation conversation;
    try {
      conversation = Conversation.parse(JSON.valueToTree(row.fields().get(field)), where);
    } catch (IllegalArgumentException e) {
      throw new DataException(e.getMessage());
    }
    try {
      return template(where).render(conversation, true, null, Map.of());
    } catch (ChatTemplateException e) {
      throw new DataException(where + ": " + e.getMessage());
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
