package org.rlhf4j.chat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.rlhf4j.tokenizer.Tokenizer;

/**
 * Which characters and tokens of a rendered conversation are the assistant's, derived from the
 * template's own renderings: assistant message i starts where the conversation before it,
 * rendered with the generation prompt, ends (that rendering must be a prefix of the whole), and
 * ends just past the first end-of-turn token after that ({@link EndOfTurn}: {@code <|im_end|>}
 * even where EOS is another token, as for base Qwen3), which must hold
 * the message's final text (what follows any {@code </think>}). Both ends must fall on token
 * boundaries of the whole text's tokenization. A template for which any of this fails cannot
 * mark the assistant's tokens, and says so. Stateless.
 */
public final class AssistantSpans {
  private AssistantSpans() {}

  /** An assistant message's span: characters [charStart, charEnd), tokens [tokenStart, tokenEnd). */
  public record Span(int message, int charStart, int charEnd, int tokenStart, int tokenEnd) {}

  /** A conversation rendered and tokenized, with its assistant spans. */
  public record Rendered(String text, int[] ids, List<Span> spans) {
    /** Per token, whether it belongs to an assistant turn. */
    public boolean[] mask() {
      boolean[] mask = new boolean[ids.length];
      for (Span s : spans) Arrays.fill(mask, s.tokenStart(), s.tokenEnd(), true);
      return mask;
    }
  }

  /**
   * Renders, tokenizes (no special tokens added, as apply_chat_template does) and marks.
   *
   * @throws ChatTemplateException when the template cannot mark an assistant message
   */
  public static Rendered render(ChatTemplate template, Conversation conversation,
      boolean addGenerationPrompt, List<Object> tools, Map<String, Object> kwargs,
      Tokenizer tokenizer) {
    String text = template.render(conversation, addGenerationPrompt, tools, kwargs);
    int[] ids = tokenizer.encode(text);
    List<Span> spans = new ArrayList<>();
    String end = null;  // found at the first assistant message: a conversation without one needs none
    for (int i = 0; i < conversation.messages().size(); i++) {
      if (!conversation.role(i).equals("assistant")) continue;
      String why = "cannot mark assistant message " + i + ": ";
      if (i == 0) throw cannot(template, why + "it has no conversation before it to render");
      String before = template.render(conversation.prefix(i), true, tools, kwargs);
      if (!text.startsWith(before)) {
        throw cannot(template, why + "the conversation before it, rendered with the generation"
            + " prompt, is not how the whole conversation starts");
      }
      if (end == null) end = EndOfTurn.text(template);
      int charEnd = text.indexOf(end, before.length());
      if (charEnd < 0) throw cannot(template, why + "no " + end + " after its start");
      charEnd += end.length();
      String content = conversation.content(i);
      int think = content.lastIndexOf("</think>");
      String answer = (think < 0 ? content : content.substring(think + "</think>".length())).strip();
      if (!text.substring(before.length(), charEnd).contains(answer)) {
        throw cannot(template, why + "its text is not between its start and the next " + end);
      }
      spans.add(new Span(i, before.length(), charEnd,
          tokenBoundary(text, before.length(), ids, tokenizer, template, why),
          tokenBoundary(text, charEnd, ids, tokenizer, template, why)));
    }
    return new Rendered(text, ids, spans);
  }

  /** The number of tokens before character offset, when the tokenization of the text before it is a prefix of ids. */
  private static int tokenBoundary(String text, int offset, int[] ids, Tokenizer tokenizer,
      ChatTemplate template, String why) {
    int[] before = tokenizer.encode(text.substring(0, offset));
    if (before.length > ids.length
        || !Arrays.equals(before, 0, before.length, ids, 0, before.length)) {
      throw cannot(template, why + "character " + offset + " is inside a token");
    }
    return before.length;
  }

  private static ChatTemplateException cannot(ChatTemplate template, String what) {
    return new ChatTemplateException("chat template " + template.origin() + ": " + what);
  }
}
