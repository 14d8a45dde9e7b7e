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
    return render(parse(row, field).messages(), true, row.where() + ": " + field);
  }

  private String render(List<Map<String, Object>> messages, boolean generationPrompt, String where)
      throws IOException {
    try {
      return template(where).render(messages, generationPrompt, null, Map.of());
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
   * Whether row holds a conversational pair: its prompt field a conversation or, when it has no
   * prompt field (TRL's implicit prompt), its chosen side one.
   */
  public static boolean isConversationalPair(Row row, String promptField, String chosenField) {
    return isConversation(row, row.has(promptField) ? promptField : chosenField);
  }

  /**
   * Row's pair in TRL's conversational preference forms: explicit, {@code {"prompt": [messages],
   * "chosen": [messages], "rejected": [messages]}}; or implicit, {@code {"chosen": [messages],
   * "rejected": [messages]}}, each side a whole conversation, whose prompt is the messages both
   * sides begin with (as TRL's extract_prompt takes it) and whose sides are the rest.
   *
   * @throws DataException naming the row and the field for a malformed conversation, an implicit
   *     pair with no shared first message or a side with nothing after the shared ones, or a side
   *     whose rendering does not continue the prompt's
   */
  public Pair pair(Row row, String promptField, String chosenField, String rejectedField) throws IOException {
    String like = row.has(promptField) ? "the prompt is" : chosenField + " is";
    List<Map<String, Object>> chosen = sideMessages(row, chosenField, like);
    List<Map<String, Object>> rejected = sideMessages(row, rejectedField, like);
    List<Map<String, Object>> prompt;
    if (row.has(promptField)) {
      prompt = parse(row, promptField).messages();
    } else {
      int shared = 0;
      while (shared < Math.min(chosen.size(), rejected.size()) && chosen.get(shared).equals(rejected.get(shared))) {
        shared++;
      }
      if (shared == 0) {
        throw new DataException(row.where() + ": '" + chosenField + "' and '" + rejectedField + "' begin with different"
            + " messages, so no prompt can be taken from them (give '" + promptField + "')");
      }
      if (shared == chosen.size() || shared == rejected.size()) {
        throw new DataException(row.where() + ": " + (shared == chosen.size() ? chosenField : rejectedField)
            + ": no messages after the " + shared + " both sides begin with");
      }
      prompt = chosen.subList(0, shared);
      chosen = chosen.subList(shared, chosen.size());
      rejected = rejected.subList(shared, rejected.size());
    }
    String rendered = render(prompt, true, row.where() + ": " + promptField);
    return new Pair(rendered, continuation(row.where() + ": " + chosenField, prompt, chosen, rendered),
        continuation(row.where() + ": " + rejectedField, prompt, rejected, rendered));
  }

  private static List<Map<String, Object>> sideMessages(Row row, String field, String like) {
    if (!isConversation(row, field)) {
      throw new DataException(row.where() + ": " + field + ": expected a list of messages, as " + like);
    }
    return parse(row, field).messages();
  }

  private String continuation(String where, List<Map<String, Object>> prompt, List<Map<String, Object>> side,
      String renderedPrompt) throws IOException {
    List<Map<String, Object>> messages = new ArrayList<>(prompt);
    messages.addAll(side);
    String full = render(messages, false, where);
    if (!full.startsWith(renderedPrompt) || full.length() == renderedPrompt.length()) {
      throw new DataException(where + ": the prompt and this side, rendered, do not continue the prompt rendered"
          + " with the generation prompt (the template cannot mark the response)");
    }
    return full.substring(renderedPrompt.length());
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
