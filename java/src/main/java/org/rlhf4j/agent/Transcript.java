package org.rlhf4j.agent;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rlhf4j.chat.ChatTemplate;

/**
 * The chat template's view of an episode's conversation: the opening text, and each
 * observation's text as the template's delta after the assistant's turn, so that the tokens
 * already in the episode are never rendered or tokenized again. Thread-safe.
 */
final class Transcript {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Stands for an assistant turn's text, which no template changes (no edge whitespace, no markup). */
  private static final String MARKER = "r4j-assistant-turn-7f3a";

  private final ChatTemplate template;
  private final List<Object> tools;
  private final Map<String, Object> kwargs;

  /** @param tools the tools' specs; none passes no {@code tools} to the template */
  Transcript(ChatTemplate template, ArrayNode tools, Map<String, Object> kwargs) {
    this.template = template;
    this.tools = tools.isEmpty() ? null : JSON.convertValue(tools, new TypeReference<List<Object>>() {});
    this.kwargs = Map.copyOf(kwargs);
  }

  /** The opening conversation with the generation prompt: the episode's prompt. */
  String opening(List<Message> messages) {
    return render(messages, true);
  }

  /**
   * The text appended after an assistant turn that ended with the token whose text is endOfTurn:
   * what the template renders after the turn's text (its end of turn and glue, such as Qwen3's
   * newline after {@code <|im_end|>}), the observations and the next generation prompt; less the
   * end of turn when the model's own token stands for it. The turn is rendered as a marker: its
   * tokens are already in the episode, and templates that rewrite a last assistant turn (Qwen3's
   * empty think block) render it as the model saw it once it is followed by observations.
   *
   * @param before the conversation before the assistant's turn
   * @throws IllegalStateException naming the template when the conversation with the observations
   *     does not continue the text the model was given, or leaves out the assistant's text
   */
  String observation(List<Message> before, List<Message> observations, String endOfTurn) {
    List<Message> messages = new ArrayList<>(before);
    messages.add(Message.assistant(MARKER, List.of()));
    messages.addAll(observations);
    String asked = render(before, true);
    String next = render(messages, true);
    if (!next.startsWith(asked)) {
      throw new IllegalStateException("chat template " + template.origin() + ": the conversation with the"
          + " assistant's turn and the tool results, rendered, does not continue the text the model was given"
          + " (rendered with the generation prompt); multi-turn episodes need a template that only appends");
    }
    int at = next.indexOf(MARKER, asked.length());
    if (at < 0) {
      throw new IllegalStateException("chat template " + template.origin() + ": it does not render an assistant"
          + " message's content as written, so the turn's end cannot be found");
    }
    String after = next.substring(at + MARKER.length());
    String trimmed = after.stripLeading();
    return !endOfTurn.isEmpty() && trimmed.startsWith(endOfTurn) ? trimmed.substring(endOfTurn.length()) : after;
  }

  private String render(List<Message> messages, boolean generationPrompt) {
    List<Map<String, Object>> maps = new ArrayList<>(messages.size());
    for (Message m : messages) maps.add(JSON.convertValue(m.toNode(), new TypeReference<Map<String, Object>>() {}));
    return template.render(maps, generationPrompt, tools, kwargs);
  }
}
