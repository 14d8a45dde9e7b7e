package org.rlhf4j.chat;

/** A chat template that is missing, malformed, raised an error, or uses what the engine cannot render as Jinja2 does. */
public final class ChatTemplateException extends RuntimeException {
  public ChatTemplateException(String message) {
    super(message);
  }
}
