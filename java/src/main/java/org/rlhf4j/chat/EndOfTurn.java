package org.rlhf4j.chat;

import java.util.List;
import java.util.Map;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * The token a chat template ends an assistant turn with (Qwen3's {@code <|im_end|>}, Llama 3's
 * {@code <|eot_id|>}), derived from the template itself: a probe conversation (a user message,
 * then an assistant message whose content is a marker) is rendered, and the end of turn is the
 * first word (whitespace-delimited) the template writes after the marker; that word must be
 * exactly one token. A response generated after the template's generation prompt is the
 * assistant's turn, so it ends there, whether or not the tokenizer's EOS is that token (for base
 * Qwen3 EOS is {@code <|endoftext|>}, for Llama 3.1 {@code <|end_of_text|>}). Stateless.
 */
public final class EndOfTurn {
  /** The probe's assistant content: one word no template changes (Llama's trims, Qwen3's strips newlines). */
  static final String MARKER = "rlhf4jEndOfTurnProbe";

  private EndOfTurn() {}

  /**
   * The end-of-turn word of template.
   *
   * @throws ChatTemplateException naming the template when it raises on the probe, drops the
   *     assistant's content, or writes nothing after it
   */
  public static String text(ChatTemplate template) {
    return template.endOfTurn();
  }

  /** What {@link #text} answers, by rendering the probe (ChatTemplate keeps it: once per template). */
  static String probe(ChatTemplate template) {
    List<Map<String, Object>> probe = List.of(Map.of("role", "user", "content", "Hello"),
        Map.of("role", "assistant", "content", MARKER));
    String rendered;
    try {
      rendered = template.render(probe, false, null, Map.of());
    } catch (ChatTemplateException e) {
      throw cannot(template, "rendering a user and an assistant message failed: " + e.getMessage());
    }
    int at = rendered.lastIndexOf(MARKER);
    if (at < 0) throw cannot(template, "the assistant's content does not appear in its rendering");
    String after = rendered.substring(at + MARKER.length()).stripLeading();
    int end = 0;
    while (end < after.length() && !Character.isWhitespace(after.charAt(end))) end++;
    if (end == 0) throw cannot(template, "it writes nothing after the assistant's content");
    return after.substring(0, end);
  }

  /**
   * The id of the end-of-turn token under tokenizer.
   *
   * @throws ChatTemplateException as {@link #text}, or when the word is not exactly one token
   */
  public static int id(ChatTemplate template, Tokenizer tokenizer) {
    String text = text(template);
    int[] ids = tokenizer.encode(text);
    if (ids.length != 1) {
      throw cannot(template, "what it writes after the assistant's content, \"" + text + "\", is " + ids.length
          + " tokens for this tokenizer, not one end-of-turn token");
    }
    return ids[0];
  }

  /**
   * The stop id of a generation whose prompts template rendered with the generation prompt: the
   * end-of-turn token, or -1 (none needed) when it is the tokenizer's EOS, at which generation
   * stops anyway.
   */
  public static int stopId(ChatTemplate template, Tokenizer tokenizer) {
    int id = id(template, tokenizer);
    return id == tokenizer.eosId() ? -1 : id;
  }

  /**
   * The stop id of a generation with an explicit stop token besides EOS (stop, -1 for none) whose
   * prompts template rendered with the generation prompt (null: plain-string prompts, stop
   * unchanged): the end-of-turn token, unless it is EOS or stop. An explicit stop beside a
   * different end of turn is refused: a generation has one stop token besides EOS, and dropping
   * either would let responses run on silently.
   *
   * @param stopName names the explicit stop in the error, e.g. generation.stop_token
   * @throws IllegalArgumentException for an explicit stop beside a different end of turn
   * @throws ChatTemplateException as {@link #id}
   */
  public static int stopId(ChatTemplate template, Tokenizer tokenizer, int stop, String stopName) {
    if (template == null) return stop;
    int turn = stopId(template, tokenizer);
    if (turn < 0 || turn == stop) return stop;
    if (stop >= 0) {
      throw new IllegalArgumentException(stopName + " and the chat template's end-of-turn token \"" + text(template)
          + "\" would both end the responses to conversational prompts, and generation has one stop token besides"
          + " EOS: leave " + stopName + " unset (those responses stop at the end of turn)");
    }
    return turn;
  }

  private static ChatTemplateException cannot(ChatTemplate template, String why) {
    return new ChatTemplateException("chat template " + template.origin() + ": cannot find its end-of-turn token: "
        + why);
  }
}
