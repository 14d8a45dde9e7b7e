package org.rlhf4j.agent;

import java.util.List;
import org.rlhf4j.config.AgentSection.ToolFormat;

/**
 * Reads the tool calls out of an assistant's text. Never throws: text it cannot read gives
 * errors, which the environment turns into error messages to the model.
 */
public interface ToolCallParser {
  /**
   * What one assistant message said.
   *
   * @param content the text outside the tool calls, stripped
   * @param calls the well-formed calls, in order
   * @param errors one line per call that could not be read
   */
  record Parsed(String content, List<ToolCall> calls, List<String> errors) {
    public Parsed {
      calls = List.copyOf(calls);
      errors = List.copyOf(errors);
    }

    /** True when the model asked for no tool at all (well-formed or not). */
    public boolean none() {
      return calls.isEmpty() && errors.isEmpty();
    }

    /** The assistant message with its calls, for a chat template or a dump. */
    public Message message() {
      return Message.assistant(content, calls);
    }
  }

  Parsed parse(String text);

  /** The parser of format. */
  static ToolCallParser of(ToolFormat format) {
    return switch (format) {
      case HERMES -> new HermesParser();
      case LLAMA3_JSON -> new Llama3JsonParser();
    };
  }
}
