package org.rlhf4j.sft;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import org.rlhf4j.chat.AssistantSpans;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.Conversation;
import org.rlhf4j.config.DataSection.TooLong;
import org.rlhf4j.data.DataException;
import org.rlhf4j.data.Row;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.train.ExampleEncoder.Encoded;
import org.rlhf4j.train.SftExample;

/**
 * Turns a conversational SFT row ({@code {"messages": [...]}}, TRL's format) into tokens: the
 * conversation rendered with the model's chat template (no generation prompt) and tokenized as
 * apply_chat_template does (no special tokens added: the template writes them). With
 * assistant-only loss the targets are the assistant turns' tokens as {@link AssistantSpans}
 * marks them, checked per example; otherwise every token after the first. A conversation over
 * max_seq_len is skipped or cut to its first max_seq_len tokens per data.too_long (skipped when
 * the cut leaves no target). The template is loaded at the first conversational row, so plain
 * data needs none. Not thread-safe.
 */
final class ConversationEncoder {
  static final String MESSAGES = "messages";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path modelDir;
  private final Tokenizer tokenizer;
  private final int maxSeqLen;
  private final TooLong tooLong;
  private final boolean assistantOnlyLoss;
  private ChatTemplate template;

  /** @param modelDir the model directory whose chat template renders, or null when there is none */
  ConversationEncoder(Path modelDir, Tokenizer tokenizer, int maxSeqLen, TooLong tooLong, boolean assistantOnlyLoss) {
    this.modelDir = modelDir;
    this.tokenizer = tokenizer;
    this.maxSeqLen = maxSeqLen;
    this.tooLong = tooLong;
    this.assistantOnlyLoss = assistantOnlyLoss;
  }

  /**
   * The example of row's messages, or null when a limit skips it.
   *
   * @throws DataException naming the row and the field for a malformed conversation, a missing
   *     template, or a template that cannot mark the assistant's tokens
   */
  Encoded encode(Row row) throws IOException {
    String where = row.where() + ": " + MESSAGES;
    Conversation conversation;
    try {
      conversation = Conversation.parse(JSON.valueToTree(row.fields().get(MESSAGES)), where);
    } catch (IllegalArgumentException e) {
      throw new DataException(e.getMessage());
    }
    ChatTemplate chat = template(where);
    int[] ids;
    boolean[] mask;
    try {
      if (assistantOnlyLoss) {
        AssistantSpans.Rendered r = AssistantSpans.render(chat, conversation, false, null, Map.of(), tokenizer);
        if (r.spans().isEmpty()) {
          throw new DataException(where + ": no assistant message to learn from (sft.assistant_only_loss is true)");
        }
        ids = r.ids();
        mask = r.mask();
      } else {
        ids = tokenizer.encode(chat.render(conversation, false, null, Map.of()));
        mask = new boolean[ids.length];
        Arrays.fill(mask, true);
      }
    } catch (ChatTemplateException e) {
      throw new DataException(where + ": " + e.getMessage());
    }
    if (ids.length < 2) throw new DataException(where + ": the rendered conversation has fewer than 2 tokens");
    mask[0] = false;
    boolean truncated = false;
    if (ids.length > maxSeqLen) {
      if (tooLong == TooLong.SKIP) return null;
      ids = Arrays.copyOf(ids, maxSeqLen);
      mask = Arrays.copyOf(mask, maxSeqLen);
      truncated = true;
    }
    int targets = 0;
    for (boolean m : mask) if (m) targets++;
    if (targets == 0) return null;
    return new Encoded(SftExample.masked(ids, mask), truncated);
  }

  private ChatTemplate template(String where) throws IOException {
    if (template != null) return template;
    try {
      template = (modelDir == null ? Optional.<ChatTemplate>empty() : ChatTemplate.load(modelDir))
          .orElseThrow(() -> new DataException(where + ": conversational data needs a chat template and "
              + (modelDir == null ? "the model" : modelDir) + " has none (no chat_template.jinja, no chat_template"
              + " in tokenizer_config.json)"));
    } catch (ChatTemplateException e) {
      throw new DataException(where + ": " + e.getMessage());
    }
    return template;
  }
}
