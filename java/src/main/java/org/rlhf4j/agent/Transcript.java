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
 * observation's text as the template's delta, so that the tokens already in the episode are
 * never rendered or tokenized again. Thread-safe.
 */
final class Transcript {
  private static final ObjectMapper JSON = new ObjectMapper();

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
   * The text appended after an assistant turn that ended with the end-of-turn text endOfTurn: what
   * the template renders after that token (Qwen3's newline after {@code <|im_end|>}), then the
   * observations and the next generation prompt, as render(with observations, generation prompt)
   * minus render(without them).
   *
   * @param before the conversation before the assistant's turn
   * @param assistant the turn as passed to the environment
   * @throws IllegalStateException naming the template when a rendering does not continue the previous one
   */
  String observation(List<Message> before, Message assistant, List<Message> observations, String endOfTurn) {
    List<Message> withTurn = new ArrayList<>(before);
    withTurn.add(assistant);
    String asked = render(before, true);
    String answered = render(withTurn, false);
    List<Message> withObservations = new ArrayList<>(withTurn);
    withObservations.addAll(observations);
    String next = render(withObservations, true);
    requirePrefix(answered, next, "the conversation with the tool results and the generation prompt");
    String turn = answered.startsWith(asked) ? answered.substring(asked.length()) : answered;
    int end = endOfTurn.isEmpty() ? -1 : turn.lastIndexOf(endOfTurn);
    String glue = end < 0 ? "" : turn.substring(end + endOfTurn.length());
    return glue + next.substring(answered.length());
  }

  private void requirePrefix(String prefix, String text, String what) {
    if (!text.startsWith(prefix)) {
      throw new IllegalStateException("chat template " + template.origin() + ": " + what
          + " does not continue the conversation rendered without them, so earlier tokens would change;"
          + " multi-turn episodes need a template that only appends (for Qwen3, without reasoning stripped from"
          + " earlier turns)");
    }
  }

  private String render(List<Message> messages, boolean generationPrompt) {
    List<Map<String, Object>> maps = new ArrayList<>(messages.size());
    for (Message m : messages) maps.add(JSON.convertValue(m.toNode(), new TypeReference<Map<String, Object>>() {}));
    return template.render(maps, generationPrompt, tools, kwargs);
  }
}
